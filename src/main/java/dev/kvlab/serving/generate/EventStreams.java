package dev.kvlab.serving.generate;

import dev.kvlab.serving.web.ApiException;
import dev.kvlab.serving.web.Problems;
import java.io.IOException;
import java.time.Duration;
import org.springframework.http.MediaType;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/** Ties a server-sent event stream to the generation behind it: when the stream ends early, so does the generation. */
public final class EventStreams {

    /** An async response outlives the request timeout a little, so the generation's own timeout reports first. */
    public static final Duration MARGIN = Duration.ofSeconds(30);

    private EventStreams() {}

    /**
     * Sends one event; a stream that has already ended (client gone, container timeout, shutdown) is an
     * {@link IOException}, like a broken connection, so the generation behind it is cancelled.
     */
    public static void send(SseEmitter emitter, SseEmitter.SseEventBuilder event) throws IOException {
        try {
            emitter.send(event);
        } catch (IllegalStateException completed) {
            throw new IOException("the event stream has already ended", completed);
        }
    }

    public static SseEmitter emitter(Duration requestTimeout) {
        return new SseEmitter(requestTimeout.plus(MARGIN).toMillis());
    }

    /** Cancels {@code job} when the client goes away or the stream times out (no-ops once it has finished). */
    public static void cancelWhenClosed(SseEmitter emitter, GenerationJob job) {
        if (job == null) {
            return;
        }
        emitter.onTimeout(() -> job.cancel(GenerationFailures.Cancel.TIMEOUT));
        emitter.onError(e -> job.cancel(GenerationFailures.Cancel.CLIENT_GONE));
        emitter.onCompletion(() -> job.cancel(GenerationFailures.Cancel.CLIENT_GONE));
    }

    /** Ends an OpenAI stream with its problem as one {@code data:} event carrying OpenAI's {@code error}. */
    public static void failOpenAi(SseEmitter emitter, ApiException problem) throws IOException {
        try {
            Object body = Problems.toMap(Problems.withOpenAiError(problem.getBody()));
            send(emitter, SseEmitter.event().data(body, MediaType.APPLICATION_JSON));
        } finally {
            emitter.complete();
        }
    }

    /** Ends an OpenAI stream as OpenAI does: {@code data: [DONE]}. */
    public static void doneOpenAi(SseEmitter emitter) throws IOException {
        send(emitter, SseEmitter.event().data("[DONE]", MediaType.TEXT_PLAIN));
        emitter.complete();
    }
}
