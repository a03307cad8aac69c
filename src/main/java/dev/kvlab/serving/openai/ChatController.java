package dev.kvlab.serving.openai;

import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.TokenLogprob;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.serving.ModelInfo;
import dev.kvlab.serving.generate.EventStreams;
import dev.kvlab.serving.generate.GenerateResponse;
import dev.kvlab.serving.generate.GenerationService;
import dev.kvlab.serving.web.ApiException;
import dev.kvlab.tokenizer.TextTokenizer;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/**
 * {@code POST /v1/chat/completions}: the conversation rendered with the model's chat template, then
 * generated like any other request (same scheduler, admission, limits and {@code kv_cache}
 * extension), ending at the template's end-of-turn tokens as well as the model's end-of-sequence ones.
 * Streamed as OpenAI's {@code chat.completion.chunk} events ending with {@code data: [DONE]}.
 */
@RestController
@RequestMapping("/v1")
public class ChatController {

    private final GenerationService generation;
    private final JsonReplies replies;
    private final ChatPrompts prompts;
    private final KvlabProperties.Serving limits;
    private final String servedModel;

    ChatController(GenerationService generation, JsonReplies replies, ChatPrompts prompts, KvlabProperties properties,
            ModelFolder folder) {
        this.generation = generation;
        this.replies = replies;
        this.prompts = prompts;
        this.limits = properties.serving();
        this.servedModel = ModelInfo.name(folder.dir());
    }

    @PostMapping(path = "/chat/completions", consumes = MediaType.APPLICATION_JSON_VALUE)
    Object chat(@RequestBody ChatCompletionRequest body, HttpServletRequest http) {
        String prompt = prompts.render(body.conversation());
        GenerationRequest request = body.toGeneration(limits, generation.architecture(), servedModel, prompt,
                prompts.endOfTurnTokens());
        TextTokenizer tokenizer = generation.tokenizer();
        // the template writes the special tokens (BOS included) itself: encode without adding any
        int[] ids = tokenizer.encode(prompt);
        if (ids.length == 0) {
            throw ApiException.badRequest("messages", "the rendered conversation encodes to no tokens");
        }
        if (ids.length > limits.maxPromptTokens()) {
            throw ApiException.tooLarge("messages", "the rendered conversation is " + ids.length
                    + " tokens, more than the " + limits.maxPromptTokens() + " allowed (kvlab.serving.max-prompt-tokens)",
                    null);
        }
        String id = "chatcmpl-" + UUID.randomUUID();
        long created = Instant.now().getEpochSecond();
        if (!body.streams()) {
            return replies.generateAll(http, List.of(new JsonReplies.Part(request, ids)), responses -> {
                GenerateResponse r = responses.get(0);
                ChatCompletionResponse.Logprobs logprobs = body.reportsLogprobs()
                        ? ChatCompletionResponse.Logprobs.of(r.engine().completionLogprobs(), tokenizer::tokenText)
                        : null;
                return ChatCompletionResponse.of(id, created, servedModel, r, logprobs);
            });
        }
        SseEmitter emitter = EventStreams.emitter(limits.requestTimeout());
        Deltas deltas = new Deltas(emitter, id, created, servedModel, body.includesUsage(), tokenizer);
        EventStreams.cancelWhenClosed(emitter, generation.stream(request, ids, deltas));
        return emitter;
    }

    /** Writes a generation as OpenAI chat chunks: the role, then the text as it comes, then the finish reason. */
    private static final class Deltas extends OpenAiChunkStream {
        private boolean started;

        Deltas(SseEmitter emitter, String id, long created, String model, boolean includeUsage,
                TextTokenizer tokenizer) {
            super(emitter, id, created, model, includeUsage, tokenizer);
        }

        @Override
        public void token(int tokenId, String text, TokenLogprob logprob) throws IOException {
            start();
            ChatCompletionResponse.Logprobs logprobs = logprob == null ? null
                    : ChatCompletionResponse.Logprobs.of(List.of(logprob), tokenizer::tokenText);
            if (!text.isEmpty() || logprobs != null) {
                send(ChatCompletionResponse.chunk(id, created, model, new ChatCompletionResponse.Message(null, text),
                        logprobs, null));
            }
        }

        @Override
        public void done(GenerateResponse response) throws IOException {
            start();
            finish(ChatCompletionResponse.chunk(id, created, model, new ChatCompletionResponse.Message(null, null), null,
                    CompletionResponse.finishReason(response.finishReason())), response);
        }

        @Override
        protected Object usageChunk(GenerateResponse response) {
            return ChatCompletionResponse.usageChunk(id, created, model, response);
        }

        /** The first chunk names the role, as OpenAI's do. */
        private void start() throws IOException {
            if (!started) {
                started = true;
                send(ChatCompletionResponse.chunk(id, created, model, new ChatCompletionResponse.Message("assistant", ""),
                        null, null));
            }
        }
    }
}
