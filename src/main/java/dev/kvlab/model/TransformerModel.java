package dev.kvlab.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.KvSpec;
import dev.kvlab.cache.policy.CachePolicy;

/**
 * A causal LM loaded once and shared by all requests: weights are immutable, and the only
 * per-request state is the {@link KvCache} passed to {@link #forward}. Safe for concurrent use
 * with distinct caches.
 */
public interface TransformerModel extends AutoCloseable {

    ModelConfig config();

    KvSpec kvSpec();

    Device device();

    /** Compute dtype of weights, activations and cache (f32 on CPU, f16 on GPU by default). */
    DataType dtype();

    long parameterCount();

    /**
     * A fresh cache in its own native-memory manager; close it to free the request's memory.
     *
     * @param prefillChunk the largest number of tokens that will be passed to one {@link #forward}
     */
    KvCache newCache(CachePolicy policy, int prefillChunk);

    /**
     * Runs the next {@code tokens} (those after the {@code cache.seenTokens()} already seen) through
     * every layer, appending their keys and values and letting the cache's policy compact each layer.
     * Arrays created here belong to the caller's {@code NDScope}.
     *
     * @param allPositions logits for every new token, else only for the last
     * @return f32 logits, (tokens, vocab) or (1, vocab)
     * @throws ContextOverflowException when the model cannot represent the positions (GPT-2 past
     *     {@code n_positions})
     */
    NDArray forward(int[] tokens, KvCache cache, boolean allPositions);

    @Override
    void close();
}
