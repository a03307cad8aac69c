package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import java.util.Map;

/** The uncompressed baseline: keeps every token, the reference every other policy is measured against. */
public final class FullPolicy implements CachePolicy {

    @Override
    public String name() {
        return "full";
    }

    @Override
    public Map<String, Object> params() {
        return Map.of();
    }

    @Override
    public RopeMode ropeMode() {
        return RopeMode.ORIGINAL;
    }

    @Override
    public boolean isBounded() {
        return false;
    }

    @Override
    public boolean compacts() {
        return false;
    }

    @Override
    public int maxSlots() {
        return Integer.MAX_VALUE;
    }

    @Override
    public boolean observesAttention() {
        return false;
    }

    @Override
    public void afterAttention(int layer, LayerCache cache, AttentionObservation attention, long seenTokens) {}
}
