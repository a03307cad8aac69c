package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.Quantization;
import dev.kvlab.cache.RopeMode;
import java.util.Collections;
import java.util.Map;
import java.util.Set;

/** The uncompressed baseline: keeps every token, the reference every other policy is measured against. */
public final class FullPolicy implements CachePolicy {

    static final PolicyType TYPE = new PolicyType("full", Set.of(),
            (params, context) -> new FullPolicy(context.quantization()));

    private final Quantization quantization;

    /** An unquantized full cache. */
    public FullPolicy() {
        this(Quantization.NONE);
    }

    public FullPolicy(Quantization quantization) {
        this.quantization = quantization;
    }

    @Override
    public String name() {
        return TYPE.name();
    }

    @Override
    public Map<String, Object> params() {
        return Collections.unmodifiableMap(quantization.params());
    }

    @Override
    public Quantization quantization() {
        return quantization;
    }

    @Override
    public RopeMode ropeMode() {
        return RopeMode.ORIGINAL;
    }

    @Override
    public boolean hasFixedBudget() {
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
