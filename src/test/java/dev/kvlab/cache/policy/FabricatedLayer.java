package dev.kvlab.cache.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.KvSpec;
import dev.kvlab.cache.LayerCache;

/**
 * A one-layer cache with hand-written keys, values and attention, so a policy's selection can be
 * checked without a model: append tokens, then hand the policy an attention pattern.
 */
final class FabricatedLayer implements AutoCloseable {
    final KvCache cache;
    final LayerCache layer;
    final int kvHeads;
    final int headDim;
    private long seen;

    FabricatedLayer(CachePolicy policy, int kvHeads, int headDim) {
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.cache = new KvCache(new KvSpec(1, kvHeads, headDim, DataType.FLOAT32), policy, NDManager.newBaseManager(), 16);
        this.layer = cache.layer(0);
    }

    /** Appends tokens given as [head][token][dim] keys and values, then lets the policy see {@code probs}. */
    void step(float[][][] keys, float[][][] values, float[][][][] probs) {
        int tokens = keys[0].length;
        layer.append(tensor(keys), tensor(values), (int) seen);
        seen += tokens;
        cache.advance(tokens);
        AttentionObservation observation = probs == null ? null : new AttentionObservation(tensor4(probs));
        cache.policy().afterAttention(0, layer, observation, seen);
    }

    /** Appends {@code tokens} tokens with random keys and values, and one attention row per KV head. */
    void stepWithRows(int tokens, float[][] lastRowPerHead, java.util.Random random) {
        float[][][] k = new float[kvHeads][tokens][headDim];
        float[][][] v = new float[kvHeads][tokens][headDim];
        for (int h = 0; h < kvHeads; h++) {
            for (int t = 0; t < tokens; t++) {
                for (int d = 0; d < headDim; d++) {
                    k[h][t][d] = (float) random.nextGaussian();
                    v[h][t][d] = (float) random.nextGaussian();
                }
            }
        }
        float[][][][] probs = new float[kvHeads][1][1][];
        for (int h = 0; h < kvHeads; h++) {
            probs[h][0][0] = lastRowPerHead[h];
        }
        step(k, v, probs);
    }

    /** Head h's stored keys as [slot][dim]. */
    float[][] keys(int head) {
        return rows(layer.keys(), head);
    }

    float[][] values(int head) {
        return rows(layer.values(), head);
    }

    private float[][] rows(NDArray all, int head) {
        float[] flat = all.toFloatArray();
        int stored = layer.stored();
        float[][] out = new float[stored][headDim];
        for (int s = 0; s < stored; s++) {
            System.arraycopy(flat, (head * stored + s) * headDim, out[s], 0, headDim);
        }
        return out;
    }

    private NDArray tensor(float[][][] x) {
        int tokens = x[0].length;
        float[] flat = new float[kvHeads * tokens * headDim];
        for (int h = 0; h < kvHeads; h++) {
            for (int t = 0; t < tokens; t++) {
                System.arraycopy(x[h][t], 0, flat, (h * tokens + t) * headDim, headDim);
            }
        }
        return cache.manager().create(flat, new Shape(kvHeads, tokens, headDim));
    }

    private NDArray tensor4(float[][][][] p) {
        int group = p[0].length;
        int tokens = p[0][0].length;
        int stored = p[0][0][0].length;
        float[] flat = new float[kvHeads * group * tokens * stored];
        int i = 0;
        for (float[][][] head : p) {
            for (float[][] g : head) {
                for (float[] row : g) {
                    System.arraycopy(row, 0, flat, i, stored);
                    i += stored;
                }
            }
        }
        return cache.manager().create(flat, new Shape(kvHeads, group, tokens, stored));
    }

    @Override
    public void close() {
        cache.close();
    }
}
