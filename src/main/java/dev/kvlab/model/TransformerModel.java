package dev.kvlab.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.cache.DevicePaths;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.KvSpec;
import dev.kvlab.cache.MemoryBudget;
import dev.kvlab.cache.policy.CachePolicy;
import java.util.List;

/**
 * A causal LM loaded once and shared by all requests: weights are immutable, and the only
 * per-request state is the {@link KvCache} each sequence brings to {@link #forward}. Safe for
 * concurrent use with distinct caches.
 */
public interface TransformerModel extends AutoCloseable {

    ModelConfig config();

    KvSpec kvSpec();

    Device device();

    /** Compute dtype of weights, activations and cache (f32 on CPU, f16 on GPU by default). */
    DataType dtype();

    long parameterCount();

    /**
     * The memory a sequence takes on this model: weights in the compute dtype, its KV cache and the
     * activation allowance computed from its shapes.
     *
     * @param prefillChunk the most tokens one forward pass feeds
     */
    default MemoryBudget memoryBudget(int prefillChunk) {
        ModelConfig c = config();
        int dtypeBytes = dtype().getNumOfBytes();
        MemoryBudget budget = new MemoryBudget(kvSpec(), parameterCount() * dtypeBytes, prefillChunk,
                MemoryBudget.Activations.fromShapes(c.hiddenSize(), c.numHeads(), c.vocabSize(), dtypeBytes));
        return DevicePaths.gpuWay(device()) ? budget.onGpu() : budget;
    }

    /**
     * A fresh cache in its own native-memory manager; close it to free the request's memory.
     *
     * @param prefillChunk the largest number of tokens that will be passed to one {@link #forward}
     */
    KvCache newCache(CachePolicy policy, int prefillChunk);

    /**
     * Runs one forward pass over several sequences at once: the tokens of all of them go through the
     * shared weights as one (rows × hidden) matrix, and each sequence attends over its own cache. No
     * cache changes until the caller commits the sequence ({@link ForwardPass#commit}); if this throws,
     * every cache is as it was. Arrays created here belong to the caller's {@code NDScope}.
     *
     * @throws ContextOverflowException when the model cannot represent a sequence's positions (GPT-2
     *     past {@code n_positions}); nothing has run then
     */
    ForwardPass forward(List<SequenceInput> batch);

    /**
     * One sequence's forward pass, committed: runs the next {@code tokens} (those after the
     * {@code cache.seenTokens()} already seen) through every layer, appending their keys and values
     * and letting the cache's policy compact each layer.
     *
     * @param allPositions logits for every new token, else only for the last
     * @return f32 logits, (tokens, vocab) or (1, vocab)
     */
    default NDArray forward(int[] tokens, KvCache cache, boolean allPositions) {
        ForwardPass pass = forward(List.of(new SequenceInput(cache, tokens, allPositions)));
        pass.commit(0);
        return pass.logits();
    }

    /**
     * Checks that a sequence can take {@code count} more tokens after the {@code first} it has seen.
     *
     * @throws ContextOverflowException when the model has no positions for them (GPT-2)
     */
    default void checkPositions(long first, int count) {}

    @Override
    void close();
}
