package dev.kvlab.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.KvSpec;
import dev.kvlab.cache.policy.CachePolicy;

/** What every architecture shares: the weights' manager, the KV spec and per-request caches. */
public abstract class AbstractDecoder implements TransformerModel {
    protected final NDManager manager;
    protected final DataType dtype;
    private final KvSpec kvSpec;
    private long parameterCount;
    private IntraOpThreads threads = IntraOpThreads.unchanged();

    protected AbstractDecoder(ModelConfig config, NDManager manager, DataType dtype) {
        this.manager = manager;
        this.dtype = dtype;
        this.kvSpec = new KvSpec(config.numLayers(), config.numKvHeads(), config.headDim(), dtype);
    }

    protected void setParameterCount(long count) {
        this.parameterCount = count;
    }

    /** How many intra-op threads prefill and decode passes use ({@link ModelLoader} sets it for CPUs). */
    public void setThreads(IntraOpThreads threads) {
        this.threads = threads;
    }

    public IntraOpThreads threads() {
        return threads;
    }

    @Override
    public final NDArray forward(int[] tokens, KvCache cache, boolean allPositions) {
        checkTokens(tokens);
        threads.select(tokens.length);
        return compute(tokens, cache, allPositions);
    }

    /** The architecture's forward pass ({@link #forward}, after the tokens were checked). */
    protected abstract NDArray compute(int[] tokens, KvCache cache, boolean allPositions);

    @Override
    public KvSpec kvSpec() {
        return kvSpec;
    }

    @Override
    public Device device() {
        return manager.getDevice();
    }

    @Override
    public DataType dtype() {
        return dtype;
    }

    @Override
    public long parameterCount() {
        return parameterCount;
    }

    @Override
    public KvCache newCache(CachePolicy policy, int prefillChunk) {
        return new KvCache(kvSpec, policy, NDManager.newBaseManager(manager.getDevice()), prefillChunk);
    }

    /** Token ids as an int64 index array in the request's manager. */
    protected static NDArray tokenIndex(KvCache cache, int[] tokens) {
        long[] ids = new long[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            ids[i] = tokens[i];
        }
        return cache.manager().create(ids, new Shape(tokens.length));
    }

    /** Rows to project to logits: all of them, or just the last (a decode step has only that one). */
    protected static NDArray lastRows(NDArray x, boolean allPositions) {
        return allPositions || x.getShape().get(0) == 1 ? x : x.get("-1:, :");
    }

    private void checkTokens(int[] tokens) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("forward needs at least one token");
        }
        int vocab = config().vocabSize();
        for (int t : tokens) {
            if (t < 0 || t >= vocab) {
                throw new IllegalArgumentException("token id " + t + " outside the vocabulary [0, " + vocab + ")");
            }
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
