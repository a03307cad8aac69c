package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.CompactionPlan;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import java.util.Set;

/**
 * Heavy-Hitter Oracle (Zhang et al. 2023, "H2O: Heavy-Hitter Oracle for Efficient Generative
 * Inference of Large Language Models"): every KV head accumulates the attention each slot receives
 * at every step ({@code Sⱼ += aⱼ}, the new tokens included), protects the last {@code recent}
 * slots, and keeps the slots with the highest accumulated attention among the rest.
 */
public final class H2oPolicy extends BoundedPolicy {

    /** No sinks; half the budget as the recent window, the paper's split between heavy hitters and recent tokens. */
    static final Defaults DEFAULTS = new Defaults(0, 2, RopeMode.ORIGINAL);
    static final PolicyType TYPE = PolicyType.bounded("h2o", DEFAULTS, Set.of("recent"),
            (limits, params) -> new H2oPolicy(limits));

    H2oPolicy(Limits limits) {
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
    boolean addsReceivedAttention() {
        return true;
    }

    @Override
    void observe(LayerCache cache, AttentionObservation attention) {
        cache.scores().addReceived(attention);
    }

    @Override
    CompactionPlan plan(LayerCache cache, AttentionObservation attention, Window window) {
        return droppingLowest(cache, window, h -> s -> cache.scores().score(h, s));
    }
}
