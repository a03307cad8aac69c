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
import dev.kvlab.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The body of {@code POST /v1/chat/completions} as OpenAI defines it. The conversation is rendered
 * with the model's chat template; fields that would change the result and that kvlab does not
 * implement ({@code tools}, a {@code response_format} other than text, {@code logit_bias},
 * {@code n} above 1, non-zero penalties) are a 400 naming the field, and fields that change nothing
 * ({@code user}, {@code metadata}, {@code store}, …) are accepted and ignored.
 *
 * @param messages required: {@code role} system, developer (read as system), user or assistant, and
 *     {@code content} a string or a list of {@code {"type": "text", "text": …}} parts
 * @param maxTokens deprecated by OpenAI for {@code max_completion_tokens}; either bounds the answer
 *     [{@code kvlab.serving.max-new-tokens}]
 * @param logprobs [false]; {@code true} reports each generated token's log-probability
 * @param topLogprobs [0] with {@code logprobs}: 0 … 20 most likely alternatives per token
 * @param kvCache extension: the KV-cache policy, as in {@code /generate}
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ChatCompletionRequest(
        @JsonProperty("model") String model,
        @JsonProperty("messages") List<Message> messages,
        @JsonProperty("max_tokens") Integer maxTokens,
        @JsonProperty("max_completion_tokens") Integer maxCompletionTokens,
        @JsonProperty("temperature") Double temperature,
        @JsonProperty("top_p") Double topP,
        @JsonProperty("top_k") Integer topK,
        @JsonProperty("seed") Long seed,
        @JsonProperty("stop") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> stop,
        @JsonProperty("stream") Boolean stream,
        @JsonProperty("stream_options") CompletionRequest.StreamOptions streamOptions,
        @JsonProperty("n") Integer n,
        @JsonProperty("logprobs") Boolean logprobs,
        @JsonProperty("top_logprobs") Integer topLogprobs,
        @JsonProperty("tools") List<Object> tools,
        @JsonProperty("tool_choice") Object toolChoice,
        @JsonProperty("response_format") Map<String, Object> responseFormat,
        @JsonProperty("logit_bias") Map<String, Object> logitBias,
        @JsonProperty("frequency_penalty") Double frequencyPenalty,
        @JsonProperty("presence_penalty") Double presencePenalty,
        @JsonProperty("kv_cache") Map<String, Object> kvCache) {

    /** OpenAI's limit for {@code top_logprobs}. */
    static final int MAX_TOP_LOGPROBS = 20;

    /** One message: its role and its text (a string, or text parts). */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record Message(@JsonProperty("role") String role, @JsonProperty("content") Object content) {}

    boolean streams() {
        return Boolean.TRUE.equals(stream);
    }

    boolean includesUsage() {
        return streamOptions != null && Boolean.TRUE.equals(streamOptions.includeUsage());
    }

    boolean reportsLogprobs() {
        return Boolean.TRUE.equals(logprobs);
    }

    /** The conversation as the chat template reads it; a message that is wrong is a 400 naming it. */
    List<ChatMessage> conversation() {
        if (messages == null || messages.isEmpty()) {
            throw ApiException.badRequest("messages", "must hold at least one message");
        }
        List<ChatMessage> conversation = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            String field = "messages[" + i + "]";
            Message m = messages.get(i);
            if (m == null) {
                throw ApiException.badRequest(field, "must be an object with role and content");
            }
            String role = m.role() == null ? null : switch (m.role()) {
                case "system", "developer" -> "system";
                case "user", "assistant" -> m.role();
                default -> null;
            };
            if (role == null) {
                throw ApiException.badRequest(field + ".role", "must be system, developer, user or assistant, got "
                        + (m.role() == null ? "nothing" : "'" + m.role() + "'"));
            }
            String text = text(m.content(), field + ".content");
            TextChecks.requireWellFormed(field + ".content", text);
            conversation.add(new ChatMessage(role, text));
        }
        return conversation;
    }

    /** A message's text: a string, or the text parts of a list joined. */
    private static String text(Object content, String field) {
        if (content instanceof String s) {
            return s;
        }
        if (!(content instanceof List<?> parts)) {
            throw ApiException.badRequest(field, "must be a string or a list of text parts");
        }
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < parts.size(); i++) {
            if (!(parts.get(i) instanceof Map<?, ?> part) || !"text".equals(part.get("type"))
                    || !(part.get("text") instanceof String s)) {
                throw ApiException.badRequest(field + "[" + i + "]",
                        "must be {\"type\": \"text\", \"text\": \"…\"}: this model reads text only");
            }
            text.append(s);
        }
        return text.toString();
    }

    /**
     * The engine request for the rendered prompt.
     *
     * @param stopTokens the template's end-of-turn token ids
     * @throws ApiException 400 naming the first parameter that is wrong, 404 for another model
     */
    GenerationRequest toGeneration(KvlabProperties.Serving limits, Architecture architecture, String servedModel,
            String prompt, List<Integer> stopTokens) {
        if (model != null && !model.equals(servedModel)) {
            throw ApiException.notFound("model", "the model '" + model + "' does not exist; this server serves '"
                    + servedModel + "' (GET /v1/models)");
        }
        String bound = maxCompletionTokens != null ? "max_completion_tokens" : "max_tokens";
        Integer asked = maxCompletionTokens != null ? maxCompletionTokens : maxTokens;
        int maxNew = asked == null ? limits.maxNewTokens() : asked;
        if (maxNew < 1 || maxNew > limits.maxNewTokens()) {
            throw ApiException.badRequest(bound, "must be between 1 and " + limits.maxNewTokens()
                    + " (kvlab.serving.max-new-tokens), got " + maxNew);
        }
        SamplingParams sampling = RequestChecks.openAiSampling(temperature, topP, topK, seed,
                CompletionRequest.MAX_TEMPERATURE);
        RequestChecks.refuseUnsupported(n, logitBias, frequencyPenalty, presencePenalty);
        if (tools != null && !tools.isEmpty()) {
            throw ApiException.badRequest("tools", "tool calls are not supported; leave tools out");
        }
        if (toolChoice != null && !"none".equals(toolChoice)) {
            throw ApiException.badRequest("tool_choice", "tool calls are not supported; leave it out or \"none\"");
        }
        if (responseFormat != null && !"text".equals(responseFormat.get("type"))) {
            throw ApiException.badRequest("response_format", "only {\"type\": \"text\"} is supported");
        }
        int top = topLogprobs == null ? 0 : topLogprobs;
        if (top < 0 || top > MAX_TOP_LOGPROBS) {
            throw ApiException.badRequest("top_logprobs", "must be between 0 and " + MAX_TOP_LOGPROBS + ", got " + top);
        }
        if (topLogprobs != null && !reportsLogprobs()) {
            throw ApiException.badRequest("top_logprobs", "needs \"logprobs\": true");
        }
        Logprobs reported = reportsLogprobs() ? new Logprobs(top, false) : Logprobs.NONE;
        return new GenerationRequest(prompt, maxNew, sampling, RequestChecks.stops(stop),
                RequestChecks.policy(kvCache, limits, architecture), false, reported, stopTokens);
    }
}
