package dev.kvlab.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.KvSpec;
import dev.kvlab.cache.policy.CachePolicy;
import java.util.List;
import java.util.function.Supplier;

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
    public final ForwardPass forward(List<SequenceInput> batch) {
        if (batch.isEmpty()) {
            throw new IllegalArgumentException("a forward pass needs at least one sequence");
        }
        int widest = 0;
        for (SequenceInput in : batch) {
            checkTokens(in.tokens());
            checkPositions(in.cache().seenTokens(), in.tokens().length);
            widest = Math.max(widest, in.tokens().length);
        }
        threads.select(widest);
        ForwardPass pass = new ForwardPass(batch, config().numLayers());
        try {
            pass.setLogits(compute(pass));
        } catch (RuntimeException | Error e) {
            pass.discardRest();
            throw e;
        } finally {
            pass.registerKept();
        }
        return pass;
    }

    /**
     * Runs one transformer layer and frees its temporaries (scores, a batch's stacked keys, MLP
     * intermediates) when it returns, keeping only its output and the probabilities policies observe:
     * a pass holds one layer's activations at a time, not every layer's until the step ends. Under
     * autograd (the trainer) nothing is freed early, since the backward pass reads them.
     */
    protected static NDArray inLayerScope(Supplier<NDArray> layer) {
        if (JniUtils.isGradMode()) {
            return layer.get();
        }
        NDArray out;
        try (NDScope scope = new NDScope()) {
            out = layer.get();
            NDScope.unregister(out);
        }
        NDScope.register(out);
        return out;
    }

    /**
     * The architecture's forward pass over every sequence of {@code pass} (after the tokens were
     * checked): stages each layer's keys and values through {@link CachedAttention}.
     *
     * @return f32 logits, the rows {@link ForwardPass#logitRows} describes
     */
    protected abstract NDArray compute(ForwardPass pass);

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

    /** Every sequence's tokens, in order, as an int64 index array in the first sequence's manager. */
    protected static NDArray tokenIndex(ForwardPass pass) {
        long[] ids = new long[pass.rows()];
        int r = 0;
        for (int i = 0; i < pass.size(); i++) {
            for (int t : pass.input(i).tokens()) {
                ids[r++] = t;
            }
        }
        return pass.input(0).cache().manager().create(ids, new Shape(ids.length));
    }

    /**
     * The rows to project to logits: each sequence's last row, or all its rows when it asked for
     * every position. A pass of single tokens (decode steps) needs no selection.
     */
    protected static NDArray logitRows(NDArray x, ForwardPass pass) {
        int rows = (int) x.getShape().get(0);
        if (pass.logitRows() == rows) {
            return x;
        }
        long[] index = new long[pass.logitRows()];
        int r = 0;
        int row = 0;
        for (int i = 0; i < pass.size(); i++) {
            SequenceInput in = pass.input(i);
            int tokens = in.tokens().length;
            for (int t = in.allPositions() ? 0 : tokens - 1; t < tokens; t++) {
                index[r++] = row + t;
            }
            row += tokens;
        }
        if (pass.size() == 1) { // one contiguous run of rows: a slice
            return x.get(new NDIndex("{}:, :", index[0]));
        }
        return x.get(pass.input(0).cache().manager().create(index));
    }

    private void checkTokens(int[] tokens) {
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
