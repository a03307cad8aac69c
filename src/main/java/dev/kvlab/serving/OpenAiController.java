package dev.kvlab.serving;

import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.model.ModelFolder;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
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
class OpenAiController {

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
        GenerationRequest request = body.toGeneration(limits, generation.architecture(), card.id());
        long created = Instant.now().getEpochSecond();
        String echoed = body.echoes() ? request.prompt() : "";
        if (!body.streams()) {
            return replies.generate(http, request, r -> CompletionResponse.of(
                    "cmpl-" + r.id().substring(r.id().indexOf('-') + 1), created, card.id(), echoed, r));
        }
        SseEmitter emitter = EventStreams.emitter(limits.requestTimeout());
        Chunks chunks = new Chunks(emitter, "cmpl-" + UUID.randomUUID(), created, card.id(), echoed,
                body.includesUsage());
        EventStreams.cancelWhenClosed(emitter, generation.stream(request, chunks));
        return emitter;
    }

    /** When the model was made: its {@code config.json}'s modification time, in epoch seconds. */
    private static long created(Path dir) {
        try {
            return Files.getLastModifiedTime(dir.resolve("config.json")).toInstant().getEpochSecond();
        } catch (IOException e) {
            return Instant.now().getEpochSecond();
        }
    }

    /** Writes a generation as OpenAI completion chunks. */
    private static final class Chunks implements GenerationSink {
        private final SseEmitter emitter;
        private final String id;
        private final long created;
        private final String model;
        private final boolean includeUsage;
        private String pending;

        Chunks(SseEmitter emitter, String id, long created, String model, String echoed, boolean includeUsage) {
            this.emitter = emitter;
            this.id = id;
            this.created = created;
            this.model = model;
            this.includeUsage = includeUsage;
            this.pending = echoed;
        }

        @Override
        public void token(int tokenId, String text) throws IOException {
            String out = pending + text;
            pending = "";
            if (!out.isEmpty()) {
                send(CompletionResponse.chunk(id, created, model, out, null));
            }
        }

        @Override
        public void done(GenerateResponse response) throws IOException {
            send(CompletionResponse.chunk(id, created, model, pending,
                    CompletionResponse.finishReason(response.finishReason())));
            if (includeUsage) {
                send(CompletionResponse.usageChunk(id, created, model, response));
            }
            EventStreams.send(emitter, SseEmitter.event().data("[DONE]", MediaType.TEXT_PLAIN));
            emitter.complete();
        }

        @Override
        public void failed(ApiException problem) throws IOException {
            try {
                Object body = Problems.toMap(Problems.withOpenAiError(problem.getBody()));
                EventStreams.send(emitter, SseEmitter.event().data(body, MediaType.APPLICATION_JSON));
            } finally {
                emitter.complete();
            }
        }

        private void send(CompletionResponse chunk) throws IOException {
            EventStreams.send(emitter, SseEmitter.event().data(chunk, MediaType.APPLICATION_JSON));
        }
    }
}
