package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.CompactionPlan;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.Quantization;
import dev.kvlab.cache.RopeMode;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * What every compressing policy shares, in the manner of kvpress's {@code ScorerPress}: a budget of
 * slots per head (fixed, or a ratio of the tokens seen), {@code sinks} first slots and the last
 * {@code recent} slots that are never touched, and one entry point that compacts a layer whenever
 * it holds more than the budget. A subclass only says which unprotected slots go ({@link #plan});
 * most rank them by a per-slot priority and drop the lowest ({@link #lowest}).
 */
public abstract class BoundedPolicy implements CachePolicy {

    /**
     * What a policy assumes when a request leaves a shared parameter out; each policy class states its
     * own, after its paper (read by {@link BoundedParams}).
     *
     * @param sinks first slots never touched
     * @param recentDivisor the default {@code recent} is {@code budget / recentDivisor}; 0 means none
     * @param rope positions when the request gives no {@code rope}
     */
    record Defaults(int sinks, int recentDivisor, RopeMode rope) {}

    /**
     * Budget and protected slots as the request resolved them.
     *
     * @param budget slots per head per layer, or 0 when {@code budgetRatio} applies
     * @param budgetRatio share of the tokens seen that may stay stored, or 0 when {@code budget} applies
     * @param recent protected newest slots, or -1 for the policy's default share of the budget
     * @param recentDivisor the default {@code recent} is {@code budget / recentDivisor}; 0 means none
     * @param compactEvery compact once the layer holds this many slots over the budget (1: whenever it
     *     is over), so up to {@code compactEvery - 1} extra slots wait between compactions
     * @param quantization how the cache stores the slots it keeps
     */
    record Limits(int budget, double budgetRatio, int sinks, int recent, int recentDivisor, RopeMode rope,
            int compactEvery, Quantization quantization) {

        int recentAt(int budget) {
            if (recent >= 0) {
                return recent;
            }
            return recentDivisor == 0 ? 0 : budget / recentDivisor;
        }

        boolean admits(int budget) {
            return budget > sinks + recentAt(budget);
        }

        /** The smallest budget that leaves at least one slot beyond sinks and the recent window. */
        int minimumBudget() {
            int b = sinks + Math.max(recent, 0) + 1;
            while (!admits(b)) {
                b++;
            }
            return b;
        }
    }

    /**
     * The slots one compaction may touch: {@code [from, to)} of {@code stored}, of which
     * {@code removals} must go (on every head, so the layer stays rectangular).
     */
    record Window(int stored, int from, int to, int removals) {}

    private final Limits limits;
    private final int minimumBudget;

    BoundedPolicy(Limits limits) {
        this.limits = limits;
        this.minimumBudget = limits.minimumBudget();
    }

    @Override
    public Map<String, Object> params() {
        Map<String, Object> p = new LinkedHashMap<>();
        if (limits.budget() > 0) {
            p.put("budget", limits.budget());
        } else {
            p.put("budget_ratio", limits.budgetRatio());
        }
        p.put("sinks", limits.sinks());
        if (takesRecent() && (limits.recent() >= 0 || limits.budget() > 0)) {
            p.put("recent", limits.recentAt(limits.budget()));
        }
        p.put("rope", limits.rope().apiName());
        if (limits.compactEvery() > 1) {
            p.put("compact_every", limits.compactEvery());
        }
        ownParams(p);
        p.putAll(limits.quantization().params());
        return Collections.unmodifiableMap(p);
    }

    @Override
    public Quantization quantization() {
        return limits.quantization();
    }

    @Override
    public boolean keepsScoresOnDevice() {
        return addsReceivedAttention() && limits.compactEvery() > 1;
    }

    /** Whether {@link #observe} adds the attention each slot receives to its summed score (H2O's accumulation). */
    boolean addsReceivedAttention() {
        return false;
    }

    /** Whether {@code recent} is a parameter of this policy ({@code streaming} derives it from the budget). */
    boolean takesRecent() {
        return true;
    }

    /** Adds the policy's own resolved parameters to the echo. */
    void ownParams(Map<String, Object> params) {}

    @Override
    public RopeMode ropeMode() {
        return limits.rope();
    }

    /** Only a {@code budget} is fixed; a {@code budget_ratio} cache grows with the text it has seen. */
    @Override
    public boolean hasFixedBudget() {
        return limits.budget() > 0;
    }

    /** Slots per head kept between compactions: the budget plus up to {@code compact_every - 1} waiting. */
    @Override
    public int maxSlots() {
        return hasFixedBudget() ? limits.budget() + limits.compactEvery() - 1 : Integer.MAX_VALUE;
    }

    @Override
    public int maxSlots(int layer, int layers) {
        return hasFixedBudget() ? budgetAt(layer, layers, 0) + limits.compactEvery() - 1 : Integer.MAX_VALUE;
    }

    /**
     * How many slots over the budget trigger a compaction (1: every step). Larger values amortize a
     * policy's per-compaction work (scoring, planning, the copy) over that many decode steps, as
     * kvpress's {@code DecodingPress} compresses every {@code compression_interval} steps; each
     * compaction then removes that many slots at once.
     */
    public int compactEvery() {
        return limits.compactEvery();
    }

    public int sinks() {
        return limits.sinks();
    }

    /**
     * Slots per head allowed in layer {@code layer} of {@code layers} once {@code seenTokens} tokens
     * have been seen: {@link #budgetAt(long)} in every layer, unless a policy shares the layers' total
     * out unevenly.
     */
    public int budgetAt(int layer, int layers, long seenTokens) {
        return budgetAt(seenTokens);
    }

    /** Slots per head per layer on average (every layer's, for a uniform policy) once {@code seenTokens} tokens have been seen. */
    public int budgetAt(long seenTokens) {
        if (limits.budget() > 0) {
            return limits.budget();
        }
        long share = (long) Math.ceil(limits.budgetRatio() * seenTokens);
        return (int) Math.min(Integer.MAX_VALUE, Math.max(minimumBudget, share));
    }

    /** The newest slots protected under {@code budget}. */
    public int recentAt(int budget) {
        return limits.recentAt(budget);
    }

    @Override
    public final void afterAttention(int layer, LayerCache cache, AttentionObservation attention, long seenTokens) {
        observe(cache, attention);
        int budget = budgetAt(layer, cache.spec().layers(), seenTokens);
        int stored = cache.stored();
        if (stored >= budget + limits.compactEvery()) {
            Window window = new Window(stored, limits.sinks(), stored - recentAt(budget), stored - budget);
            cache.compact(plan(cache, attention, window));
        }
    }

    /** Updates per-slot state from the attention the new tokens paid (new slots are already appended). */
    void observe(LayerCache cache, AttentionObservation attention) {}

    /** Which slots of the window go, per head. */
    abstract CompactionPlan plan(LayerCache cache, AttentionObservation attention, Window window);

    /** A slot's priority on one head, read in place (no copy of the head's scores per compaction). */
    @FunctionalInterface
    interface SlotPriority {
        float of(int slot);
    }

    /** A plan that drops, on every head h, the window's slots of lowest {@code priority(h)}. */
    static CompactionPlan droppingLowest(LayerCache cache, Window window, IntFunction<SlotPriority> priority) {
        int[][] drops = new int[cache.spec().kvHeads()][];
        for (int h = 0; h < drops.length; h++) {
            drops[h] = lowest(priority.apply(h), window);
        }
        return dropping(window, drops);
    }

    /** A plan that drops {@code drops[h]} (distinct slots) from head h and keeps everything else in order. */
    static CompactionPlan dropping(Window window, int[][] drops) {
        int[][] keep = new int[drops.length][];
        for (int h = 0; h < drops.length; h++) {
            boolean[] gone = new boolean[window.stored()];
            for (int s : drops[h]) {
                gone[s] = true;
            }
            int[] k = new int[window.stored() - window.removals()];
            int i = 0;
            for (int s = 0; s < window.stored(); s++) {
                if (!gone[s]) {
                    k[i++] = s;
                }
            }
            keep[h] = k;
        }
        return CompactionPlan.dropOnly(keep);
    }

    /**
     * The {@code window.removals()} slots of the window with the lowest priority, ties going to the
     * older slot. A scan for the usual one removal per decode step, a sort for prefill chunks.
     */
    static int[] lowest(float[] priority, Window window) {
        return lowest(s -> priority[s], window);
    }

    /** {@link #lowest(float[], Window)} over priorities read slot by slot. */
    static int[] lowest(SlotPriority priority, Window window) {
        int r = window.removals();
        int[] out = new int[r];
        if (r <= 4) {
            boolean[] taken = new boolean[window.to()];
            for (int i = 0; i < r; i++) {
                int best = -1;
                for (int s = window.from(); s < window.to(); s++) {
                    if (!taken[s] && (best < 0 || priority.of(s) < priority.of(best))) {
                        best = s;
                    }
                }
                taken[best] = true;
                out[i] = best;
            }
            return out;
        }
        long[] keys = new long[window.to() - window.from()];
        for (int s = window.from(); s < window.to(); s++) {
            keys[s - window.from()] = ((long) sortable(priority.of(s)) << 32) | s;
        }
        Arrays.sort(keys);
        for (int i = 0; i < r; i++) {
            out[i] = (int) keys[i];
        }
        return out;
    }

    /** A float's bits as an int that orders like the float (NaN aside). */
    private static int sortable(float f) {
        int bits = Float.floatToIntBits(f);
        return bits ^ ((bits >> 31) & 0x7fffffff);
    }

    @Override
    public String toString() {
        return name() + params();
    }
}
