package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.CompactionPlan;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * A test-only policy: keep the oldest unprotected slots, drop the newest. No paper behind it; it is
 * the smallest policy {@link PolicyTypes} can take, registered in {@link PolicyMatrixTest} to show
 * that one class and one registration line put a policy through the whole matrix.
 */
final class KeepOldestPolicy extends BoundedPolicy {

    static final PolicyType TYPE = PolicyType.bounded("keep-oldest", new Defaults(2, 4, RopeMode.ORIGINAL),
            Set.of("recent"), (limits, params) -> new KeepOldestPolicy(limits));

    private KeepOldestPolicy(Limits limits) {
        super(limits);
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
        int[] newest = IntStream.range(window.to() - window.removals(), window.to()).toArray();
        int[][] drops = new int[cache.spec().kvHeads()][];
        Arrays.fill(drops, newest);
        return dropping(window, drops);
    }
}
