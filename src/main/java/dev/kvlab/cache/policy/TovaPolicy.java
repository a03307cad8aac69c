package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.CompactionPlan;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import java.util.Arrays;
import java.util.Set;

/**
 * Token Omission Via Attention (Oren et al. 2024, "Transformers are Multi-State RNNs"): keep the
 * slots the current query attends to most, averaged over all heads of the layer, so every head of a
 * layer keeps the same positions. No history is kept: the ranking is the newest query's alone. By
 * default no sinks and no recent window, as in the paper; both can be set.
 */
public final class TovaPolicy extends BoundedPolicy {

    /** No sinks and no recent window, as in the paper. */
    static final Defaults DEFAULTS = new Defaults(0, 0, RopeMode.ORIGINAL);
    static final PolicyType TYPE = PolicyType.bounded("tova", DEFAULTS, Set.of("recent"),
            (limits, params) -> new TovaPolicy(limits));

    TovaPolicy(Limits limits) {
        super(limits);
    }

    @Override
    public String name() {
        return TYPE.name();
    }

    @Override
    public boolean observesAttention() {
        return true;
    }

    @Override
    CompactionPlan plan(LayerCache cache, AttentionObservation attention, Window window) {
        float[][] perHead = attention.lastRow(); // group means; groups are equal, so their mean is the mean over all heads
        float[] mean = new float[window.stored()];
        for (float[] row : perHead) {
            for (int s = 0; s < mean.length; s++) {
                mean[s] += row[s] / perHead.length;
            }
        }
        int[][] drops = new int[cache.spec().kvHeads()][];
        Arrays.fill(drops, lowest(mean, window));
        return dropping(window, drops);
    }
}
