package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.CompactionPlan;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * The control every informed policy must beat: keep {@code sinks} and the {@code recent} window
 * like the others, and drop uniformly at random among the rest, independently per KV head. Seeded,
 * so a run can be repeated exactly. Its defaults are {@code entropy-merge}'s, whose control it is.
 */
public final class RandomPolicy extends BoundedPolicy {

    /** {@code entropy-merge}'s, whose control it is. */
    static final Defaults DEFAULTS = EntropyMergePolicy.DEFAULTS;
    static final PolicyType TYPE = PolicyType.bounded("random", DEFAULTS, Set.of("recent", "seed"),
            (limits, params) -> new RandomPolicy(limits, params.integer("seed", 0, Long.MIN_VALUE, Long.MAX_VALUE)));

    private final long seed;
    private final Random random;

    RandomPolicy(Limits limits, long seed) {
        super(limits);
        this.seed = seed;
        this.random = new Random(seed);
    }

    @Override
    public String name() {
        return TYPE.name();
    }

    @Override
    void ownParams(Map<String, Object> params) {
        params.put("seed", seed);
    }

    @Override
    public boolean observesAttention() {
        return false;
    }

    @Override
    CompactionPlan plan(LayerCache cache, AttentionObservation attention, Window window) {
        int[][] drops = new int[cache.spec().kvHeads()][];
        for (int h = 0; h < drops.length; h++) {
            drops[h] = sample(window);
        }
        return dropping(window, drops);
    }

    /** Floyd's algorithm: {@code removals} distinct slots of the window, uniformly, in O(removals). */
    private int[] sample(Window window) {
        int size = window.to() - window.from();
        int r = window.removals();
        Set<Integer> chosen = new LinkedHashSet<>();
        for (int j = size - r; j < size; j++) {
            int t = random.nextInt(j + 1);
            chosen.add(chosen.contains(t) ? j : t);
        }
        return chosen.stream().mapToInt(i -> window.from() + i).toArray();
    }
}
