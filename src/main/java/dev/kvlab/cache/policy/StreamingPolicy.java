package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.CompactionPlan;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import java.util.Arrays;
import java.util.Set;

/**
 * StreamingLLM (Xiao et al. 2023, "Efficient Streaming Language Models with Attention Sinks"):
 * keep the first {@code sinks} slots, which soak up attention whatever they say, and the most
 * recent {@code budget − sinks}. With {@code rope=cache-index} (its default here, as in the paper)
 * positions never pass the cache size, so a RoPE model keeps going past its trained context.
 */
public final class StreamingPolicy extends BoundedPolicy {

    /** The paper's 4 sinks and cache-index positions; no {@code recent}: the window is what the budget leaves. */
    static final Defaults DEFAULTS = new Defaults(4, 0, RopeMode.CACHE_INDEX);
    static final PolicyType TYPE = PolicyType.bounded("streaming", DEFAULTS, Set.of(),
            (limits, params) -> new StreamingPolicy(limits));

    StreamingPolicy(Limits limits) {
        super(limits);
    }

    @Override
    public String name() {
        return TYPE.name();
    }

    @Override
    boolean takesRecent() {
        return false;
    }

    @Override
    public boolean observesAttention() {
        return false;
    }

    @Override
    CompactionPlan plan(LayerCache cache, AttentionObservation attention, Window window) {
        int[] oldest = new int[window.removals()];
        for (int i = 0; i < oldest.length; i++) {
            oldest[i] = window.from() + i;
        }
        int[][] drops = new int[cache.spec().kvHeads()][];
        Arrays.fill(drops, oldest);
        return dropping(window, drops);
    }
}
