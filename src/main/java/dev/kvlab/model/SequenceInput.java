package dev.kvlab.model;

import dev.kvlab.cache.KvCache;

/**
 * One sequence's share of a batched forward pass: the tokens that follow the {@code cache.seenTokens()}
 * it has seen, and its own cache (and so its own policy).
 *
 * @param allPositions logits for every new token, else only for the last
 */
public record SequenceInput(KvCache cache, int[] tokens, boolean allPositions) {
    public SequenceInput {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("forward needs at least one token");
        }
    }
}
