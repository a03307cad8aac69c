package dev.kvlab.serving.openai;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kvlab.generation.TokenLogprob;
import dev.kvlab.serving.generate.GenerateResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The answer of {@code POST /v1/chat/completions}, and each chunk of its stream, in OpenAI's shape:
 * {@code {"id": "chatcmpl-…", "object": "chat.completion", "created", "model", "choices": [{"index",
 * "message": {"role": "assistant", "content"}, "logprobs", "finish_reason"}], "usage", "kv_cache"}}; a
 * chunk ({@code chat.completion.chunk}) has a {@code delta} instead of the message: the role first,
 * then the text piece by piece, then an empty delta with the finish reason.
 */
public record ChatCompletionResponse(
        @JsonProperty("id") String id,
        @JsonProperty("object") String object,
        @JsonProperty("created") long created,
        @JsonProperty("model") String model,
        @JsonProperty("choices") List<Choice> choices,
        @JsonProperty("usage") @JsonInclude(JsonInclude.Include.NON_NULL) CompletionResponse.Usage usage,
        @JsonProperty("kv_cache") @JsonInclude(JsonInclude.Include.NON_NULL) GenerateResponse.KvCache kvCache) {

    static final String OBJECT = "chat.completion";
    static final String CHUNK = "chat.completion.chunk";

    /** A whole answer has {@code message}, a chunk has {@code delta}. */
    record Choice(
            @JsonProperty("index") int index,
            @JsonProperty("message") @JsonInclude(JsonInclude.Include.NON_NULL) Message message,
            @JsonProperty("delta") @JsonInclude(JsonInclude.Include.NON_NULL) Message delta,
            @JsonProperty("logprobs") Logprobs logprobs,
            @JsonProperty("finish_reason") String finishReason) {}

    /** @param role null in the chunks after the first */
    record Message(
            @JsonProperty("role") @JsonInclude(JsonInclude.Include.NON_NULL) String role,
            @JsonProperty("content") @JsonInclude(JsonInclude.Include.NON_NULL) String content) {}

    /** OpenAI's chat log-probabilities: one entry per generated token. */
    record Logprobs(@JsonProperty("content") List<Token> content) {

        static Logprobs of(List<TokenLogprob> tokens, IntFunction<String> tokenText) {
            List<Token> content = new ArrayList<>(tokens.size());
            for (TokenLogprob t : tokens) {
                List<Top> top = new ArrayList<>(t.top().size());
                for (TokenLogprob.Alternative a : t.top()) {
                    String text = tokenText.apply(a.token());
                    top.add(new Top(text, a.logprob(), bytes(text)));
                }
                String text = tokenText.apply(t.token());
                content.add(new Token(text, t.logprob(), bytes(text), top));
            }
            return new Logprobs(content);
        }
    }

    /** A generated token, its log-probability, its UTF-8 bytes and the most likely tokens at its place. */
    record Token(
            @JsonProperty("token") String token,
            @JsonProperty("logprob") double logprob,
            @JsonProperty("bytes") int[] bytes,
            @JsonProperty("top_logprobs") List<Top> topLogprobs) {}

    record Top(
            @JsonProperty("token") String token,
            @JsonProperty("logprob") double logprob,
            @JsonProperty("bytes") int[] bytes) {}

    private static int[] bytes(String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        int[] out = new int[utf8.length];
        for (int i = 0; i < utf8.length; i++) {
            out[i] = utf8[i] & 0xff;
        }
        return out;
    }

    static ChatCompletionResponse of(String id, long created, String model, GenerateResponse r, Logprobs logprobs) {
        Choice choice = new Choice(0, new Message("assistant", r.text()), null, logprobs,
                CompletionResponse.finishReason(r.finishReason()));
        return new ChatCompletionResponse(id, OBJECT, created, model, List.of(choice),
                CompletionResponse.Usage.of(r.usage()), r.kvCache());
    }

    /** A stream chunk: a delta (role, or a piece of text) and, in the last one, the finish reason. */
    static ChatCompletionResponse chunk(String id, long created, String model, Message delta, Logprobs logprobs,
            String finishReason) {
        return new ChatCompletionResponse(id, CHUNK, created, model,
                List.of(new Choice(0, null, delta, logprobs, finishReason)), null, null);
    }

    /** The extra last chunk of {@code stream_options.include_usage}: no choices, only usage. */
    static ChatCompletionResponse usageChunk(String id, long created, String model, GenerateResponse r) {
        return new ChatCompletionResponse(id, CHUNK, created, model, List.of(), CompletionResponse.Usage.of(r.usage()),
                null);
    }
}
