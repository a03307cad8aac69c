package dev.kvlab.serving.openai;

import dev.kvlab.config.KvlabProperties;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/**
 * The OpenAI-compatible API, so OpenAI SDKs and tools work unchanged against kvlab:
 * {@code POST /v1/completions} (plain or streamed as {@code data: {chunk}} events ending with
 * {@code data: [DONE]}), {@code GET /v1/models} and {@code GET /v1/models/{id}}. The served model's id
 * is its folder name. Problems keep the problem+json body of the rest of the API and add OpenAI's
 * {@code error} object, which is what the SDKs read.
 */
@RestController
@RequestMapping("/v1")
public class OpenAiController {

    private final GenerationService generation;
    private final JsonReplies replies;
    private final KvlabProperties.Serving limits;
    private final ModelList.Card card;

    OpenAiController(GenerationService generation, JsonReplies replies, KvlabProperties properties,
            ModelFolder folder) {
        this.generation = generation;
        this.replies = replies;
        this.limits = properties.serving();
        this.card = ModelList.Card.of(ModelInfo.name(folder.dir()), created(folder.dir()));
    }

    @GetMapping("/models")
    ModelList models() {
        return ModelList.of(card);
    }

    @GetMapping("/models/{id}")
    ModelList.Card model(@PathVariable String id) {
        if (!card.id().equals(id)) {
            throw ApiException.notFound("model", "the model '" + id + "' does not exist; this server serves '"
                    + card.id() + "'");
        }
        return card;
    }

    @PostMapping(path = "/completions", consumes = MediaType.APPLICATION_JSON_VALUE)
    Object completions(@RequestBody CompletionRequest body, HttpServletRequest http) {
        TextTokenizer tokenizer = generation.tokenizer();
        List<CompletionRequest.Prompt> prompts = body.prompts(generation.vocabSize(), tokenizer::decode);
        List<JsonReplies.Part> parts = new ArrayList<>(prompts.size());
        for (CompletionRequest.Prompt prompt : prompts) {
            parts.add(new JsonReplies.Part(body.toGeneration(limits, generation.architecture(), card.id(), prompt),
                    prompt.ids()));
        }
        long created = Instant.now().getEpochSecond();
        if (!body.streams()) {
            String id = "cmpl-" + UUID.randomUUID();
            return replies.generateAll(http, parts, responses -> {
                List<CompletionResponse.Choice> choices = new ArrayList<>(responses.size());
                for (int i = 0; i < responses.size(); i++) {
                    choices.add(choice(i, prompts.get(i).text(), body, responses.get(i), tokenizer));
                }
                return CompletionResponse.of(id, created, card.id(), choices, responses);
            });
        }
        if (parts.size() != 1) {
            throw ApiException.badRequest("prompt", "a streamed completion takes one prompt, got " + parts.size());
        }
        String echoed = body.echoes() ? prompts.get(0).text() : "";
        SseEmitter emitter = EventStreams.emitter(limits.requestTimeout());
        Chunks chunks = new Chunks(emitter, "cmpl-" + UUID.randomUUID(), created, card.id(), echoed,
                body.includesUsage(), tokenizer, prompts.get(0).text().length());
        EventStreams.cancelWhenClosed(emitter,
                generation.stream(parts.get(0).request(), parts.get(0).promptIds(), chunks));
        return emitter;
    }

    /** One prompt's choice: its text (after the prompt, with {@code echo}) and the log-probabilities asked for. */
    private static CompletionResponse.Choice choice(int index, String prompt, CompletionRequest body,
            GenerateResponse r, TextTokenizer tokenizer) {
        String text = (body.echoes() ? prompt : "") + r.text();
        CompletionResponse.Logprobs logprobs = null;
        if (body.logprobs() != null) {
            List<TokenLogprob> entries = new ArrayList<>(r.engine().promptLogprobs());
            entries.addAll(r.engine().completionLogprobs());
            logprobs = CompletionResponse.Logprobs.of(entries, tokenizer::tokenText, body.echoes() ? 0 : prompt.length());
        }
        return new CompletionResponse.Choice(text, index, logprobs, CompletionResponse.finishReason(r.finishReason()));
    }

    /** When the model was made: its {@code config.json}'s modification time, in epoch seconds. */
    private static long created(Path dir) {
        try {
            return Files.getLastModifiedTime(dir.resolve("config.json")).toInstant().getEpochSecond();
        } catch (IOException e) {
            return Instant.now().getEpochSecond();
        }
    }

    /**
     * Writes a generation as OpenAI completion chunks; with {@code logprobs}, each token's chunk carries
     * its own (the echoed prompt's are only in non-streamed answers).
     */
    private static final class Chunks extends OpenAiChunkStream {
        private String pending;
        private int offset;

        Chunks(SseEmitter emitter, String id, long created, String model, String echoed, boolean includeUsage,
                TextTokenizer tokenizer, int promptChars) {
            super(emitter, id, created, model, includeUsage, tokenizer);
            this.pending = echoed;
            this.offset = promptChars;
        }

        @Override
        public void token(int tokenId, String text, TokenLogprob logprob) throws IOException {
            String out = pending + text;
            pending = "";
            CompletionResponse.Logprobs logprobs = null;
            if (logprob != null) {
                logprobs = CompletionResponse.Logprobs.of(List.of(logprob), tokenizer::tokenText, offset);
                offset += logprobs.tokens().get(0).length();
            }
            if (!out.isEmpty() || logprobs != null) {
                send(CompletionResponse.chunk(id, created, model, out, logprobs, null));
            }
        }

        @Override
        public void done(GenerateResponse response) throws IOException {
            finish(CompletionResponse.chunk(id, created, model, pending,
                    CompletionResponse.finishReason(response.finishReason())), response);
        }

        @Override
        protected Object usageChunk(GenerateResponse response) {
            return CompletionResponse.usageChunk(id, created, model, response);
        }
    }
}
