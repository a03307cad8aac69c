package dev.kvlab.serving;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * The answer of {@code POST /v1/completions}, and each chunk of its stream, in OpenAI's shape:
 * {@code {"id": "cmpl-…", "object": "text_completion", "created", "model", "choices": [{"text", "index",
 * "logprobs": null, "finish_reason"}], "usage"}}. kvlab's {@code eos} and {@code stop} are both
 * OpenAI's {@code "stop"}. A stream chunk has {@code finish_reason} null until the last one, and no
 * {@code usage} except in the extra last chunk {@code stream_options.include_usage} asks for; the
 * whole response carries the cache figures as the extension {@code kv_cache}.
 */
record CompletionResponse(
        @JsonProperty("id") String id,
        @JsonProperty("object") String object,
        @JsonProperty("created") long created,
        @JsonProperty("model") String model,
        @JsonProperty("choices") List<Choice> choices,
        @JsonProperty("usage") @JsonInclude(JsonInclude.Include.NON_NULL) Usage usage,
        @JsonProperty("kv_cache") @JsonInclude(JsonInclude.Include.NON_NULL) GenerateResponse.KvCache kvCache) {

    static final String OBJECT = "text_completion";

    /** @param logprobs always null: kvlab does not return log-probabilities */
    record Choice(
            @JsonProperty("text") String text,
            @JsonProperty("index") int index,
            @JsonProperty("logprobs") Object logprobs,
            @JsonProperty("finish_reason") String finishReason) {}

    record Usage(
            @JsonProperty("prompt_tokens") int promptTokens,
            @JsonProperty("completion_tokens") int completionTokens,
            @JsonProperty("total_tokens") int totalTokens) {

        static Usage of(GenerateResponse.Usage u) {
            return new Usage(u.promptTokens(), u.completionTokens(), u.promptTokens() + u.completionTokens());
        }
    }

    /** OpenAI's finish reason for kvlab's: {@code length} stays, {@code eos} and {@code stop} are {@code stop}. */
    static String finishReason(String kvlab) {
        return "length".equals(kvlab) ? "length" : "stop";
    }

    static CompletionResponse of(String id, long created, String model, String prefix, GenerateResponse r) {
        return new CompletionResponse(id, OBJECT, created, model,
                List.of(new Choice(prefix + r.text(), 0, null, finishReason(r.finishReason()))),
                Usage.of(r.usage()), r.kvCache());
    }

    /** A stream chunk with some text (and no finish reason yet), or the final one with its reason. */
    static CompletionResponse chunk(String id, long created, String model, String text, String finishReason) {
        return new CompletionResponse(id, OBJECT, created, model, List.of(new Choice(text, 0, null, finishReason)),
                null, null);
    }

    /** The extra last chunk of {@code stream_options.include_usage}: no choices, only usage. */
    static CompletionResponse usageChunk(String id, long created, String model, GenerateResponse r) {
        return new CompletionResponse(id, OBJECT, created, model, List.of(), Usage.of(r.usage()), null);
    }
}
