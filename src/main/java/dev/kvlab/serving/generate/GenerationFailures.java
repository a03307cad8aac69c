package dev.kvlab.serving.generate;

import dev.kvlab.generation.GenerationCancelledException;
import dev.kvlab.model.ContextOverflowException;
import dev.kvlab.serving.web.ApiException;
import java.time.Duration;

/**
 * What an engine failure means for the client: a prompt past the model's positions is 413, a
 * cancelled generation 503 saying why, a device out-of-memory 507; anything else is a server fault
 * (null here, a 500 with the details in the log).
 */
public final class GenerationFailures {

    /** Why a generation was cancelled. */
    public enum Cancel { TIMEOUT, CLIENT_GONE, SHUTDOWN }

    private final Duration timeout;

    GenerationFailures(Duration timeout) {
        this.timeout = timeout;
    }

    /** The problem a failure means for the client, or null for a server fault. */
    ApiException problem(Throwable failure, Cancel reason) {
        if (failure instanceof ApiException api) {
            return api;
        }
        if (failure instanceof ContextOverflowException overflow) {
            return ApiException.tooLarge("prompt", overflow.getMessage(), overflow);
        }
        if (failure instanceof GenerationCancelledException cancel) {
            return ApiException.unavailable(reason == null ? cancel.getMessage() : describe(reason), cancel);
        }
        return null;
    }

    String describe(Cancel reason) {
        return switch (reason) {
            case TIMEOUT -> "the generation took longer than kvlab.serving.request-timeout (" + timeout.toSeconds()
                    + "s) and was cancelled";
            case CLIENT_GONE -> "the client disconnected";
            case SHUTDOWN -> "the server is shutting down";
        };
    }
}
