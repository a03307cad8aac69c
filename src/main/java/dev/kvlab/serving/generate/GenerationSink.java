package dev.kvlab.serving.generate;

import dev.kvlab.generation.TokenLogprob;
import dev.kvlab.serving.web.ApiException;
import java.io.IOException;

/**
 * Where a streamed generation goes: one call per token, then exactly one of {@link #done} or
 * {@link #failed}. Called on the generating thread. An {@link IOException} means the client has gone:
 * the generation is cancelled and its cache freed.
 */
public interface GenerationSink {

    /**
     * @param tokenId the token, or -1 for text released only at the end
     * @param text what the token adds to the output (may be empty)
     */
    void token(int tokenId, String text) throws IOException;

    /** {@link #token(int, String)} with the token's log-probabilities, null unless the request asked for them. */
    default void token(int tokenId, String text, TokenLogprob logprob) throws IOException {
        token(tokenId, text);
    }

    void done(GenerateResponse response) throws IOException;

    void failed(ApiException problem) throws IOException;
}
