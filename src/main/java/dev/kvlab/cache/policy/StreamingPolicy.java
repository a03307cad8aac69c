package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.CompactionPlan;
import dev.kvlab.cache.LayerCache;
import java.util.Arrays;

/**
 * StreamingLLM (Xiao et al. 2023, "Efficient Streaming Language Models with Attention Sinks"):
 * keep the first {@code sinks} slots, which soak up attention whatever they say, and the most
 * recent {@code budget − sinks}. With {@code rope=cache-index} (its default here, as in the paper)
 * positions never pass the cache size, so a RoPE model keeps going past its trained context.
 */
public final class StreamingPolicy extends BoundedPolicy {

    StreamingPolicy(Limits limits) {
        super(limits);
    }

    @Override
    public String name() {
        return "streaming";
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
        int[][] drops = new int[cache.kvHeads()][];
        Arrays.fill(drops, oldest);
        return dropping(window, drops);
    }
}
