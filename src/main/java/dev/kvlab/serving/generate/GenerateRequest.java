package dev.kvlab.serving.generate;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.Logprobs;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.model.Architecture;
import dev.kvlab.serving.web.ApiException;
import dev.kvlab.serving.web.RequestChecks;
import dev.kvlab.serving.web.TextChecks;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The body of {@code POST /generate} as the client sent it (DESIGN §5). Absent fields take the
 * defaults below; {@link #toGeneration} checks every value and names the field at fault.
 *
 * @param prompt required, non-empty
 * @param maxNewTokens [64], 0 … {@code kvlab.serving.max-new-tokens}
 * @param temperature [0.0 = greedy], 0 … 100
 * @param topK [0 = off], ≥ 0
 * @param topP [1.0 = off], in (0, 1]
 * @param seed [random]; the same seed and parameters give the same text
 * @param stop [none]; a string or a list of up to 16 non-empty strings, left out of the text
 * @param stream [false]; {@code true} answers {@code text/event-stream}: a {@code token} event per
 *     token, then {@code done} with the whole response, or {@code error} with a problem
 * @param kvCache [{"policy": "full"}]; the policy and its parameters, see {@link dev.kvlab.cache.policy.PolicyRegistry}
 * @param returnCacheMap [false]; {@code true} adds {@code cache_map} to the response: which original
 *     token positions every layer's KV heads still hold at the end ({@link GenerateResponse.CacheMapBody})
 */
public record GenerateRequest(
        @JsonProperty("prompt") String prompt,
        @JsonProperty("max_new_tokens") Integer maxNewTokens,
        @JsonProperty("temperature") Double temperature,
        @JsonProperty("top_k") Integer topK,
        @JsonProperty("top_p") Double topP,
        @JsonProperty("seed") Long seed,
        @JsonProperty("stop") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> stop,
        @JsonProperty("stream") Boolean stream,
        @JsonProperty("kv_cache") Map<String, Object> kvCache,
        @JsonProperty("return_cache_map") Boolean returnCacheMap) {

    static final int DEFAULT_MAX_NEW_TOKENS = 64;

    /** Whether the client asked for server-sent events. */
    boolean streams() {
        return Boolean.TRUE.equals(stream);
    }
    static final double MAX_TEMPERATURE = 100.0;

    /**
     * The engine request this body asks for.
     *
     * @param architecture the loaded model's, which decides the policy options that apply (GPT-2 has
     *     no rotary positions to re-index)
     * @throws ApiException 400 naming the first field that is missing or out of range
     */
    GenerationRequest toGeneration(KvlabProperties.Serving limits, Architecture architecture) {
        if (prompt == null) {
            throw ApiException.badRequest("prompt", "is required");
        }
        if (prompt.isEmpty()) {
            throw ApiException.badRequest("prompt", "must not be empty");
        }
        TextChecks.requireWellFormed("prompt", prompt);
        int maxNew = maxNewTokens == null ? Math.min(DEFAULT_MAX_NEW_TOKENS, limits.maxNewTokens()) : maxNewTokens;
        if (maxNew < 0 || maxNew > limits.maxNewTokens()) {
            throw ApiException.badRequest("max_new_tokens", "must be between 0 and " + limits.maxNewTokens()
                    + " (kvlab.serving.max-new-tokens), got " + maxNew);
        }
        double temp = temperature == null ? 0.0 : temperature;
        if (!(temp >= 0 && temp <= MAX_TEMPERATURE)) {
            throw ApiException.badRequest("temperature", "must be between 0 (greedy) and " + MAX_TEMPERATURE
                    + ", got " + temp);
        }
        int k = topK == null ? 0 : topK;
        if (k < 0) {
            throw ApiException.badRequest("top_k", "must be >= 0 (0 = off), got " + k);
        }
        double p = topP == null ? 1.0 : topP;
        if (!(p > 0 && p <= 1)) {
            throw ApiException.badRequest("top_p", "must be in (0, 1] (1 = off), got " + p);
        }
        long s = seed != null ? seed : ThreadLocalRandom.current().nextLong();
        return new GenerationRequest(prompt, maxNew, new SamplingParams(temp, k, p, s), RequestChecks.stops(stop),
                RequestChecks.policy(kvCache, limits, architecture), false, Logprobs.NONE, List.of(),
                Boolean.TRUE.equals(returnCacheMap));
    }
}
