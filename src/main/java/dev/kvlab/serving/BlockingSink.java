package dev.kvlab.serving;

import java.util.concurrent.CompletableFuture;

/**
 * The sink of a non-streaming generation: completes a future that the request thread waits on, so
 * the same job machinery serves both JSON and event-stream responses.
 */
final class BlockingSink implements GenerationSink {
    final CompletableFuture<GenerateResponse> result = new CompletableFuture<>();

    @Override
    public void token(int tokenId, String text) {}

    @Override
    public void done(GenerateResponse response) {
        result.complete(response);
    }

    @Override
    public void failed(ApiException problem) {
        result.completeExceptionally(problem);
    }

    void unexpected(Throwable t) {
        result.completeExceptionally(t);
    }
}
