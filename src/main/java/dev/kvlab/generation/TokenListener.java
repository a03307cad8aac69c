package dev.kvlab.generation;

import dev.kvlab.cache.KvCache;

/**
 * Receives each generated token as it is produced, so a server can stream without the generation
 * loop knowing about HTTP. {@code text} is what the token adds to the output once stop strings and
 * incomplete UTF-8 are accounted for (possibly empty).
 */
@FunctionalInterface
public interface TokenListener {
    TokenListener NONE = (tokenId, text) -> {};

    /**
     * @param tokenId the token sampled, or -1 for text released only at the end (the tail held back
     *     while it might have been the start of a stop string or of a UTF-8 character)
     */
    void onToken(int tokenId, String text);

    /**
     * {@link #onToken(int, String)} with the token's log-probabilities when the request asked for them
     * ({@code logprob} is null otherwise, and for the released tail).
     */
    default void onToken(int tokenId, String text, TokenLogprob logprob) {
        onToken(tokenId, text);
    }

    /**
     * Called on the generating thread after every forward pass (each prefill chunk and each decode
     * step), once the policy has compacted the cache, so a server can follow the cache live. Read
     * figures only: the cache must not be modified or kept.
     */
    default void onCacheUpdated(KvCache cache) {}
}
