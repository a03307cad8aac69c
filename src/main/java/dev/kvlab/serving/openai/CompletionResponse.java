package dev.kvlab.serving.openai;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kvlab.generation.TokenLogprob;
import dev.kvlab.serving.generate.GenerateResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * The answer of {@code POST /v1/completions}, and each chunk of its stream, in OpenAI's shape:
 * {@code {"id": "cmpl-…", "object": "text_completion", "created", "model", "choices": [{"text", "index",
 * "logprobs", "finish_reason"}], "usage"}}, {@code logprobs} null unless the request asked for them. kvlab's {@code eos} and {@code stop} are both
 * OpenAI's {@code "stop"}. A stream chunk has {@code finish_reason} null until the last one, and no
 * {@code usage} except in the extra last chunk {@code stream_options.include_usage} asks for; the
 * whole response carries the cache figures as the extension {@code kv_cache}.
 */
public record CompletionResponse(
        @JsonProperty("id") String id,
        @JsonProperty("object") String object,
        @JsonProperty("created") long created,
        @JsonProperty("model") String model,
        @JsonProperty("choices") List<Choice> choices,
        @JsonProperty("usage") @JsonInclude(JsonInclude.Include.NON_NULL) Usage usage,
        @JsonProperty("kv_cache") @JsonInclude(JsonInclude.Include.NON_NULL) GenerateResponse.KvCache kvCache) {

    static final String OBJECT = "text_completion";

    /** @param logprobs null unless the request asked for {@code logprobs} */
    record Choice(
            @JsonProperty("text") String text,
            @JsonProperty("index") int index,
            @JsonProperty("logprobs") Logprobs logprobs,
            @JsonProperty("finish_reason") String finishReason) {}

    /**
     * OpenAI's completion log-probabilities, one entry per token: its text, its log-probability (null
     * for the first prompt token, which nothing predicts), the most likely tokens at its position (null
     * there too) and where its text starts, counted in characters from the start of the prompt.
     */
    record Logprobs(
            @JsonProperty("tokens") List<String> tokens,
            @JsonProperty("token_logprobs") List<Double> tokenLogprobs,
            @JsonProperty("top_logprobs") List<Map<String, Double>> topLogprobs,
            @JsonProperty("text_offset") List<Integer> textOffset) {

        /**
         * @param entries the tokens in order (echoed prompt tokens first)
         * @param firstOffset where the first entry's text starts
         */
        static Logprobs of(List<TokenLogprob> entries, IntFunction<String> tokenText, int firstOffset) {
            List<String> tokens = new ArrayList<>(entries.size());
            List<Double> logprobs = new ArrayList<>(entries.size());
            List<Map<String, Double>> top = new ArrayList<>(entries.size());
            List<Integer> offsets = new ArrayList<>(entries.size());
            int offset = firstOffset;
            for (TokenLogprob e : entries) {
                String text = tokenText.apply(e.token());
                tokens.add(text);
                offsets.add(offset);
                offset += text.length();
                boolean predicted = !Double.isNaN(e.logprob());
                logprobs.add(predicted ? e.logprob() : null);
                if (predicted) {
                    Map<String, Double> alternatives = new LinkedHashMap<>();
                    for (TokenLogprob.Alternative a : e.top()) {
                        alternatives.putIfAbsent(tokenText.apply(a.token()), a.logprob());
                    }
                    top.add(alternatives);
                } else {
                    top.add(null);
                }
            }
            return new Logprobs(tokens, logprobs, top, offsets);
        }
    }

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
        return of(id, created, model, List.of(new Choice(prefix + r.text(), 0, null, finishReason(r.finishReason()))),
                List.of(r));
    }

    /**
     * The answer for several prompts: one choice each, in order; usage sums them, and {@code kv_cache}
     * is the first one's (a single prompt's, as clients expect it).
     */
    static CompletionResponse of(String id, long created, String model, List<Choice> choices,
            List<GenerateResponse> responses) {
        int prompt = responses.stream().mapToInt(r -> r.usage().promptTokens()).sum();
        int completion = responses.stream().mapToInt(r -> r.usage().completionTokens()).sum();
        return new CompletionResponse(id, OBJECT, created, model, choices,
                new Usage(prompt, completion, prompt + completion), responses.get(0).kvCache());
    }

    /** A stream chunk with some text (and no finish reason yet), or the final one with its reason. */
    static CompletionResponse chunk(String id, long created, String model, String text, String finishReason) {
        return chunk(id, created, model, text, null, finishReason);
    }

    /** A stream chunk whose text comes with its tokens' log-probabilities. */
    static CompletionResponse chunk(String id, long created, String model, String text, Logprobs logprobs,
            String finishReason) {
        return new CompletionResponse(id, OBJECT, created, model, List.of(new Choice(text, 0, logprobs, finishReason)),
                null, null);
    }

    /** The extra last chunk of {@code stream_options.include_usage}: no choices, only usage. */
    static CompletionResponse usageChunk(String id, long created, String model, GenerateResponse r) {
        return new CompletionResponse(id, OBJECT, created, model, List.of(), Usage.of(r.usage()), null);
    }
}
