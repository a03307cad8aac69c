package dev.kvlab.serving.generate;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.serving.openai.JsonReplies;
import dev.kvlab.serving.web.ApiException;
import dev.kvlab.serving.web.Problems;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/**
 * {@code POST /generate}: one generation with the request's own KV-cache policy, answered as one
 * JSON object, or with {@code "stream": true} as server-sent events: {@code token}
 * ({@code {"token_id", "text"}}) per token, then {@code done} holding the whole response, or
 * {@code error} holding a problem. Problems found before generation starts (400, 413, 429, 507) are
 * plain problem+json responses in both modes. In both, a client that hangs up cancels its generation.
 */
@RestController
public class GenerateController {

    private final GenerationService generation;
    private final JsonReplies replies;
    private final KvlabProperties.Serving limits;

    GenerateController(GenerationService generation, JsonReplies replies, KvlabProperties properties) {
        this.generation = generation;
        this.replies = replies;
        this.limits = properties.serving();
    }

    @PostMapping(path = "/generate", consumes = MediaType.APPLICATION_JSON_VALUE)
    Object generate(@RequestBody GenerateRequest body, HttpServletRequest http) {
        GenerationRequest request = body.toGeneration(limits, generation.architecture());
        if (!body.streams()) {
            return replies.generate(http, request, response -> response);
        }
        SseEmitter emitter = EventStreams.emitter(limits.requestTimeout());
        EventStreams.cancelWhenClosed(emitter, generation.stream(request, new Events(emitter)));
        return emitter;
    }

    /**
     * A {@code token} event.
     *
     * @param tokenId null for text released only at the end of the generation
     */
    record TokenEvent(@JsonProperty("token_id") Integer tokenId, @JsonProperty("text") String text) {}

    /** Writes a generation to the event stream. */
    private record Events(SseEmitter emitter) implements GenerationSink {

        @Override
        public void token(int tokenId, String text) throws IOException {
            EventStreams.send(emitter, SseEmitter.event().name("token")
                    .data(new TokenEvent(tokenId < 0 ? null : tokenId, text), MediaType.APPLICATION_JSON));
        }

        @Override
        public void done(GenerateResponse response) throws IOException {
            EventStreams.send(emitter, SseEmitter.event().name("done").data(response, MediaType.APPLICATION_JSON));
            emitter.complete();
        }

        @Override
        public void failed(ApiException problem) throws IOException {
            try {
                EventStreams.send(emitter, SseEmitter.event().name("error")
                        .data(Problems.toMap(problem.getBody()), MediaType.APPLICATION_JSON));
            } finally {
                emitter.complete();
            }
        }
    }
}
