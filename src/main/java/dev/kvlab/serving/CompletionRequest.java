package dev.kvlab.serving;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.model.Architecture;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The body of {@code POST /v1/completions} as OpenAI defines it, with the OpenAI defaults. Fields
 * OpenAI has and kvlab does not use ({@code logprobs}, {@code user}, {@code frequency_penalty},
 * {@code presence_penalty}, {@code logit_bias}, {@code suffix}, …) are accepted and ignored, as
 * OpenAI SDKs and tools send them; everything kvlab uses is checked and named when wrong.
 *
 * @param model [the served model]; another name is 404, as OpenAI answers it
 * @param prompt a string, or a list holding one string
 * @param maxTokens [16], 0 … {@code kvlab.serving.max-new-tokens}
 * @param temperature [1.0], 0 … 2
 * @param topP [1.0], in (0, 1]
 * @param topK [0 = off], ≥ 0 (an extension vLLM also accepts)
 * @param seed [random]
 * @param stop [none]; a string or a list of up to 16 non-empty strings
 * @param stream [false]; {@code true} answers OpenAI's {@code data: {chunk}} events, then
 *     {@code data: [DONE]}
 * @param streamOptions {@code {"include_usage": true}} adds a last chunk with {@code usage}
 * @param n [1]; only 1
 * @param bestOf [1]; only 1
 * @param echo [false]; {@code true} puts the prompt before the completion
 * @param kvCache extension: the KV-cache policy, as in {@code /generate}
 */
@JsonIgnoreProperties(ignoreUnknown = true)
record CompletionRequest(
        @JsonProperty("model") String model,
        @JsonProperty("prompt") Object prompt,
        @JsonProperty("max_tokens") Integer maxTokens,
        @JsonProperty("temperature") Double temperature,
        @JsonProperty("top_p") Double topP,
        @JsonProperty("top_k") Integer topK,
        @JsonProperty("seed") Long seed,
        @JsonProperty("stop") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> stop,
        @JsonProperty("stream") Boolean stream,
        @JsonProperty("stream_options") StreamOptions streamOptions,
        @JsonProperty("n") Integer n,
        @JsonProperty("best_of") Integer bestOf,
        @JsonProperty("echo") Boolean echo,
        @JsonProperty("kv_cache") Map<String, Object> kvCache) {

    static final int DEFAULT_MAX_TOKENS = 16;
    static final double MAX_TEMPERATURE = 2.0;

    /** @param includeUsage [false] */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record StreamOptions(@JsonProperty("include_usage") Boolean includeUsage) {}

    boolean streams() {
        return Boolean.TRUE.equals(stream);
    }

    boolean echoes() {
        return Boolean.TRUE.equals(echo);
    }

    boolean includesUsage() {
        return streamOptions != null && Boolean.TRUE.equals(streamOptions.includeUsage());
    }

    /**
     * The engine request this body asks for.
     *
     * @param servedModel the id {@code /v1/models} lists
     * @throws ApiException 400 naming the first parameter that is wrong, 404 for another model
     */
    GenerationRequest toGeneration(KvlabProperties.Serving limits, Architecture architecture, String servedModel) {
        if (model != null && !model.equals(servedModel)) {
            throw ApiException.notFound("model", "the model '" + model + "' does not exist; this server serves '"
                    + servedModel + "' (GET /v1/models)");
        }
        String text = promptText();
        int maxNew = maxTokens == null ? Math.min(DEFAULT_MAX_TOKENS, limits.maxNewTokens()) : maxTokens;
        if (maxNew < 0 || maxNew > limits.maxNewTokens()) {
            throw ApiException.badRequest("max_tokens", "must be between 0 and " + limits.maxNewTokens()
                    + " (kvlab.serving.max-new-tokens), got " + maxNew);
        }
        double temp = temperature == null ? 1.0 : temperature;
        if (!(temp >= 0 && temp <= MAX_TEMPERATURE)) {
            throw ApiException.badRequest("temperature", "must be between 0 and " + MAX_TEMPERATURE + ", got " + temp);
        }
        double p = topP == null ? 1.0 : topP;
        if (!(p > 0 && p <= 1)) {
            throw ApiException.badRequest("top_p", "must be in (0, 1], got " + p);
        }
        int k = topK == null ? 0 : topK;
        if (k < 0) {
            throw ApiException.badRequest("top_k", "must be >= 0 (0 = off), got " + k);
        }
        if (n != null && n != 1) {
            throw ApiException.badRequest("n", "only n=1 is supported, got " + n);
        }
        if (bestOf != null && bestOf != 1) {
            throw ApiException.badRequest("best_of", "only best_of=1 is supported, got " + bestOf);
        }
        long s = seed != null ? seed : ThreadLocalRandom.current().nextLong();
        return new GenerationRequest(text, maxNew, new SamplingParams(temp, k, p, s), RequestChecks.stops(stop),
                RequestChecks.policy(kvCache, architecture));
    }

    /** The one prompt, from a string or a list of one string. */
    String promptText() {
        Object p = prompt;
        if (p instanceof List<?> list) {
            if (list.size() != 1) {
                throw ApiException.badRequest("prompt", "give one prompt per request (a string, or a list of one"
                        + " string), got a list of " + list.size());
            }
            p = list.get(0);
            if (!(p instanceof String)) {
                throw ApiException.badRequest("prompt[0]", "must be a string (token-id prompts are not supported)");
            }
        }
        if (p == null) {
            throw ApiException.badRequest("prompt", "is required");
        }
        if (!(p instanceof String text)) {
            throw ApiException.badRequest("prompt", "must be a string or a list of one string");
        }
        if (text.isEmpty()) {
            throw ApiException.badRequest("prompt", "must not be empty");
        }
        TextChecks.requireWellFormed("prompt", text);
        return text;
    }
}
