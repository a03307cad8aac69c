package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.Quantization;
import dev.kvlab.cache.RopeMode;
import java.util.Map;

/**
 * Decides what a request's KV cache keeps. The model calls {@link #afterAttention} for every layer
 * after each decode step and each prefill chunk, with the attention the new tokens paid; the policy
 * updates its per-slot state and, when the layer holds more than its budget, compacts it by
 * evicting or merging slots ({@link LayerCache#compact}). One instance serves one request.
 */
public interface CachePolicy {

    /** The request name, e.g. {@code full}, {@code h2o}. */
    String name();

    /** The resolved parameters, as echoed in the response's {@code kv_cache.params}. */
    Map<String, Object> params();

    RopeMode ropeMode();

    /**
     * How the cache stores keys and values ({@code kv_cache.quantization}); independent of which slots
     * the policy keeps, so every policy takes it.
     */
    default Quantization quantization() {
        return Quantization.NONE;
    }

    /**
     * Whether the policy ever evicts or merges slots; when it does not, feeding a text in chunks or
     * token by token leaves the same cache, so each prediction sees the same keys either way.
     */
    default boolean compacts() {
        return true;
    }

    /**
     * Whether the policy keeps at most a fixed number of slots per head, {@link #maxSlots}, however long
     * the text grows: only then is a cache's memory known before the request runs, so buffers can be
     * sized once and a request admitted for any length. False for {@code full}, which keeps every
     * token, and for a {@code budget_ratio}, which compresses but grows in proportion to the text.
     */
    boolean hasFixedBudget();

    /**
     * The most slots per head per layer the policy keeps after compaction ({@code Integer.MAX_VALUE}
     * without a fixed budget).
     */
    int maxSlots();

    /**
     * The most slots per head that layer {@code layer} of a {@code layers}-layer model keeps between
     * compactions. The same for every layer unless the policy gives layers budgets of their own
     * ({@code pyramidkv}); memory predictions sum it over the layers.
     */
    default int maxSlots(int layer, int layers) {
        return maxSlots();
    }

    /** Whether {@link #afterAttention} needs the probabilities; when false the engine skips computing them. */
    boolean observesAttention();

    /**
     * Whether the policy adds the attention each slot receives at every step but compacts less often
     * than every step ({@code compact_every} above 1): its summed scores are read only at a compaction,
     * so on a GPU they stay there in between ({@link dev.kvlab.cache.SlotScores}).
     */
    default boolean keepsScoresOnDevice() {
        return false;
    }

    /**
     * @param attention the new tokens' attention over the layer's slots (new tokens included), or
     *     null when {@link #observesAttention()} is false
     * @param seenTokens tokens seen so far, the new ones included (for ratio budgets)
     */
    void afterAttention(int layer, LayerCache cache, AttentionObservation attention, long seenTokens);
}
