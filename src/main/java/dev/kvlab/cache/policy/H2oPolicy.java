package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.CompactionPlan;
import dev.kvlab.cache.LayerCache;

/**
 * Heavy-Hitter Oracle (Zhang et al. 2023, "H2O: Heavy-Hitter Oracle for Efficient Generative
 * Inference of Large Language Models"): every KV head accumulates the attention each slot receives
 * at every step ({@code Sⱼ += aⱼ}, the new tokens included), protects the last {@code recent}
 * slots, and keeps the slots with the highest accumulated attention among the rest.
 */
public final class H2oPolicy extends BoundedPolicy {

    H2oPolicy(Limits limits) {
        super(limits);
    }

    @Override
    public String name() {
        return "h2o";
    }

    @Override
    public boolean observesAttention() {
        return true;
    }

    @Override
    void observe(LayerCache cache, AttentionObservation attention) {
        accumulate(cache, attention);
    }

    /** Adds the attention the new tokens paid to every slot's accumulated score, per KV head. */
    static void accumulate(LayerCache cache, AttentionObservation attention) {
        float[][] received = attention.columnSums();
        for (int h = 0; h < cache.kvHeads(); h++) {
            cache.addScores(h, received[h]);
        }
    }

    @Override
    CompactionPlan plan(LayerCache cache, AttentionObservation attention, Window window) {
        return droppingLowest(cache, window, cache::scores);
    }
}
