package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.Quantization;
import dev.kvlab.cache.RopeMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A policy that checks the budget around every compaction of the policy it wraps. */
final class WatchedPolicy implements CachePolicy {
    final BoundedPolicy inner;
    final List<String> violations = new ArrayList<>();
    int tokensThisForward;

    WatchedPolicy(CachePolicy inner) {
        this.inner = (BoundedPolicy) inner;
    }

    @Override
    public void afterAttention(int layer, LayerCache cache, AttentionObservation attention, long seenTokens) {
        int before = cache.stored();
        int waiting = inner.compactEvery() - 1; // slots allowed over the budget between compactions
        int layers = cache.spec().layers();
        int allowedBefore = inner.budgetAt(layer, layers, seenTokens - tokensThisForward) + waiting + tokensThisForward;
        if (before > allowedBefore) {
            violations.add("layer " + layer + " held " + before + " > budget + waiting + chunk " + allowedBefore);
        }
        inner.afterAttention(layer, cache, attention, seenTokens);
        int budget = inner.budgetAt(layer, layers, seenTokens);
        if (cache.stored() > budget + waiting) {
            violations.add("layer " + layer + " kept " + cache.stored() + " after compaction at seen " + seenTokens);
        }
        if (cache.stored() < before && cache.stored() != budget) {
            violations.add("layer " + layer + " compacted to " + cache.stored() + ", not the budget " + budget);
        }
    }

    @Override public String name() { return inner.name(); }
    @Override public Map<String, Object> params() { return inner.params(); }
    @Override public RopeMode ropeMode() { return inner.ropeMode(); }
    @Override public boolean hasFixedBudget() { return inner.hasFixedBudget(); }
    @Override public int maxSlots() { return inner.maxSlots(); }
    @Override public int maxSlots(int layer, int layers) { return inner.maxSlots(layer, layers); }
    @Override public boolean observesAttention() { return inner.observesAttention(); }
    @Override public Quantization quantization() { return inner.quantization(); }
}
