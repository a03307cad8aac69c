package dev.kvlab.serving.openai;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.Logprobs;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.model.Architecture;
import dev.kvlab.serving.web.ApiException;
import dev.kvlab.serving.web.RequestChecks;
import dev.kvlab.serving.web.TextChecks;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The body of {@code POST /v1/completions} as OpenAI defines it, with the OpenAI defaults. Fields
 * that would change the result and that kvlab does not implement ({@code suffix}, {@code logit_bias},
 * {@code n} or {@code best_of} above 1, non-zero penalties) are a 400 naming the field; fields that
 * change nothing ({@code user}, {@code metadata}, …) are accepted and ignored, as OpenAI SDKs and
 * tools send them.
 *
 * @param model [the served model]; another name is 404, as OpenAI answers it
 * @param prompt a string, a list of token ids, or a list of strings or token-id lists (one choice
 *     each, in order); token ids are fed as they are, without a BOS token added
 * @param maxTokens [16], 0 … {@code kvlab.serving.max-new-tokens}
 * @param temperature [1.0], 0 … 2
 * @param topP [1.0], in (0, 1]
 * @param topK [0 = off], ≥ 0 (an extension vLLM also accepts)
 * @param seed [random]
 * @param stop [none]; a string or a list of up to 16 non-empty strings
 * @param stream [false]; {@code true} answers OpenAI's {@code data: {chunk}} events, then
 *     {@code data: [DONE]}; one prompt only
 * @param streamOptions {@code {"include_usage": true}} adds a last chunk with {@code usage}
 * @param n [1]; only 1
 * @param bestOf [1]; only 1
 * @param echo [false]; {@code true} puts the prompt before the completion (and, with
 *     {@code logprobs}, the prompt tokens' log-probabilities before the completion's)
 * @param logprobs [none]; 0 … 5: each token's log-probability and that many most likely alternatives
 * @param suffix refused unless empty
 * @param logitBias refused unless empty
 * @param frequencyPenalty refused unless 0
 * @param presencePenalty refused unless 0
 * @param kvCache extension: the KV-cache policy, as in {@code /generate}
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record CompletionRequest(
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
        @JsonProperty("logprobs") Integer logprobs,
        @JsonProperty("suffix") String suffix,
        @JsonProperty("logit_bias") Map<String, Object> logitBias,
        @JsonProperty("frequency_penalty") Double frequencyPenalty,
        @JsonProperty("presence_penalty") Double presencePenalty,
        @JsonProperty("kv_cache") Map<String, Object> kvCache) {

    static final int DEFAULT_MAX_TOKENS = 16;
    static final double MAX_TEMPERATURE = 2.0;
    /** OpenAI's limit for {@code logprobs} on completions. */
    static final int MAX_LOGPROBS = 5;
    /** The most prompts one request may hold: each is a generation of its own. */
    static final int MAX_PROMPTS = 64;

    /** @param includeUsage [false] */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record StreamOptions(@JsonProperty("include_usage") Boolean includeUsage) {}

    /**
     * One prompt of the request.
     *
     * @param text as given, or the decoded ids
     * @param ids the token ids as given, or null for a text prompt (encoded by the server)
     */
    record Prompt(String text, int[] ids) {}

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
     * The engine request this body asks for, for one prompt.
     *
     * @param servedModel the id {@code /v1/models} lists
     * @throws ApiException 400 naming the first parameter that is wrong, 404 for another model
     */
    GenerationRequest toGeneration(KvlabProperties.Serving limits, Architecture architecture, String servedModel,
            Prompt one) {
        if (model != null && !model.equals(servedModel)) {
            throw ApiException.notFound("model", "the model '" + model + "' does not exist; this server serves '"
                    + servedModel + "' (GET /v1/models)");
        }
        int maxNew = maxTokens == null ? Math.min(DEFAULT_MAX_TOKENS, limits.maxNewTokens()) : maxTokens;
        if (maxNew < 0 || maxNew > limits.maxNewTokens()) {
            throw ApiException.badRequest("max_tokens", "must be between 0 and " + limits.maxNewTokens()
                    + " (kvlab.serving.max-new-tokens), got " + maxNew);
        }
        SamplingParams sampling = RequestChecks.openAiSampling(temperature, topP, topK, seed, MAX_TEMPERATURE);
        RequestChecks.refuseUnsupported(n, logitBias, frequencyPenalty, presencePenalty);
        if (bestOf != null && bestOf != 1) {
            throw ApiException.badRequest("best_of", "only best_of=1 is supported, got " + bestOf);
        }
        if (suffix != null && !suffix.isEmpty()) {
            throw ApiException.badRequest("suffix", "is not supported: kvlab completes text, it does not insert it");
        }
        if (logprobs != null && (logprobs < 0 || logprobs > MAX_LOGPROBS)) {
            throw ApiException.badRequest("logprobs", "must be between 0 and " + MAX_LOGPROBS + ", got " + logprobs);
        }
        Logprobs reported = logprobs == null ? Logprobs.NONE : new Logprobs(logprobs, echoes());
        return new GenerationRequest(one.text(), maxNew, sampling, RequestChecks.stops(stop),
                RequestChecks.policy(kvCache, limits, architecture), false, reported);
    }

    /**
     * The prompts, in order: a string, a list of token ids, or a list of strings or token-id lists.
     *
     * @param vocabSize token ids must be below it
     * @param decode the text of token ids (for echo)
     */
    List<Prompt> prompts(int vocabSize, java.util.function.Function<int[], String> decode) {
        if (prompt == null) {
            throw ApiException.badRequest("prompt", "is required");
        }
        if (prompt instanceof String text) {
            return List.of(text(text, "prompt"));
        }
        if (!(prompt instanceof List<?> list)) {
            throw ApiException.badRequest("prompt", "must be a string, a list of token ids, or a list of strings or"
                    + " token-id lists");
        }
        if (list.isEmpty()) {
            throw ApiException.badRequest("prompt", "must not be empty");
        }
        if (list.stream().allMatch(CompletionRequest::isInteger)) {
            return List.of(ids(list, "prompt", vocabSize, decode));
        }
        if (list.size() > MAX_PROMPTS) {
            throw ApiException.badRequest("prompt", "holds " + list.size() + " prompts, more than the " + MAX_PROMPTS
                    + " one request may hold");
        }
        List<Prompt> prompts = new ArrayList<>(list.size());
        for (int i = 0; i < list.size(); i++) {
            String field = "prompt[" + i + "]";
            Object item = list.get(i);
            if (item instanceof String text) {
                prompts.add(text(text, field));
            } else if (item instanceof List<?> tokens && !tokens.isEmpty()) {
                prompts.add(ids(tokens, field, vocabSize, decode));
            } else {
                throw ApiException.badRequest(field, "must be a string or a non-empty list of token ids");
            }
        }
        return prompts;
    }

    private static Prompt text(String text, String field) {
        if (text.isEmpty()) {
            throw ApiException.badRequest(field, "must not be empty");
        }
        TextChecks.requireWellFormed(field, text);
        return new Prompt(text, null);
    }

    private static Prompt ids(List<?> tokens, String field, int vocabSize,
            java.util.function.Function<int[], String> decode) {
        int[] ids = new int[tokens.size()];
        for (int j = 0; j < ids.length; j++) {
            Object t = tokens.get(j);
            if (!isInteger(t) || ((Number) t).longValue() < 0 || ((Number) t).longValue() >= vocabSize) {
                throw ApiException.badRequest(field + "[" + j + "]", "must be a token id between 0 and "
                        + (vocabSize - 1) + ", got " + t);
            }
            ids[j] = ((Number) t).intValue();
        }
        return new Prompt(decode.apply(ids), ids);
    }

    private static boolean isInteger(Object o) {
        return o instanceof Integer || o instanceof Long;
    }
}
