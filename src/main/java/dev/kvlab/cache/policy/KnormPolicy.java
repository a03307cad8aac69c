package dev.kvlab.cache.policy;

import ai.djl.ndarray.types.DataType;
import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.CompactionPlan;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/**
 * Key-norm eviction (Devoto et al. 2024, "A Simple and Effective L2 Norm-Based Strategy for KV Cache
 * Compression"): keys with a low L2 norm draw high attention, so each KV head keeps the keys of
 * lowest norm and drops those of highest. It needs no attention at all, so the engine skips
 * computing the probabilities for it. RoPE rotates a key without changing its norm, so both RoPE
 * modes rank alike. {@code keep=high} inverts the rule: on the shipped model the paper's direction
 * loses the pass key (0 of 27 documents at half the cache, where keeping the highest norms finds 16;
 * docs/research.md), so the parameter lets a user check which way a model leans.
 */
public final class KnormPolicy extends BoundedPolicy {

    /** No sinks and no recent window: the norm alone decides, as in the paper. */
    static final Defaults DEFAULTS = new Defaults(0, 0, RopeMode.ORIGINAL);
    static final PolicyType TYPE = PolicyType.bounded("knorm", DEFAULTS, Set.of("recent", "keep"),
            (limits, params) -> new KnormPolicy(limits,
                    params.choice("keep", "low", Set.of("low", "high")).equals("high")));

    private final boolean keepHigh;

    KnormPolicy(Limits limits, boolean keepHigh) {
        super(limits);
        this.keepHigh = keepHigh;
    }

    @Override
    void ownParams(Map<String, Object> params) {
        params.put("keep", keepHigh ? "high" : "low");
    }

    @Override
    public String name() {
        return TYPE.name();
    }

    @Override
    public boolean observesAttention() {
        return false;
    }

    @Override
    CompactionPlan plan(LayerCache cache, AttentionObservation attention, Window window) {
        float[][] norms = keyNorms(cache);
        if (!keepHigh) { // the lowest priority goes first: the highest norm
            for (float[] head : norms) {
                for (int s = 0; s < head.length; s++) {
                    head[s] = -head[s];
                }
            }
        }
        return droppingLowest(cache, window, h -> s -> norms[h][s]);
    }

    /** The L2 norm of every stored key, per head: (kvHeads)(stored). */
    private static float[][] keyNorms(LayerCache cache) {
        int stored = cache.stored();
        float[] flat = cache.keys(0, stored).toType(DataType.FLOAT32, false).norm(new int[] {-1}).toFloatArray();
        float[][] out = new float[cache.spec().kvHeads()][];
        for (int h = 0; h < out.length; h++) {
            out[h] = Arrays.copyOfRange(flat, h * stored, (h + 1) * stored);
        }
        return out;
    }
}
