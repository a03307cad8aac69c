package dev.kvlab.cache.policy;

import dev.kvlab.cache.RopeMode;
import dev.kvlab.cache.policy.BoundedPolicy.Defaults;
import dev.kvlab.cache.policy.BoundedPolicy.Limits;
import java.util.Set;

/**
 * The parameters every bounded policy shares, read in one place so that a policy class only states
 * its {@link Defaults}: exactly one of {@code budget} (slots per head per layer) or {@code
 * budget_ratio} (share of the tokens seen, in (0, 1]); {@code sinks}; {@code recent}; {@code rope}
 * ({@code original} | {@code cache-index}); {@code compact_every} (compact once this many slots are
 * over the budget, default 1).
 */
final class BoundedParams {

    /**
     * The keys every bounded policy accepts. {@code recent} is not among them: a policy whose protected
     * window is not a free choice ({@code streaming}, {@code snapkv}) leaves it out of its own keys.
     */
    static final Set<String> KEYS = Set.of("budget", "budget_ratio", "sinks", "rope", "compact_every");
    /** The most {@code compact_every} a request may ask for: beyond this the bound stops meaning much. */
    static final int MAX_COMPACT_EVERY = 1024;

    private BoundedParams() {}

    /** The limits of a policy whose {@code recent} window is a parameter (default from {@code defaults}). */
    static Limits read(PolicyParams p, PolicyType.Context context, Defaults defaults) {
        return read(p, context, defaults, -1);
    }

    /**
     * The limits of a policy that protects the newest {@code window} slots itself (SnapKV's observation
     * window), or of one that reads {@code recent} when {@code window} is -1.
     *
     * @throws PolicyException naming the key at fault
     */
    static Limits read(PolicyParams p, PolicyType.Context context, Defaults defaults, int window) {
        int sinks = (int) p.integer("sinks", defaults.sinks(), 0, Integer.MAX_VALUE);
        int recent = window >= 0 ? window : (int) p.integer("recent", -1, 0, Integer.MAX_VALUE);
        RopeMode rope = rope(p, defaults.rope(), context.rotary());
        int compactEvery = (int) p.integer("compact_every", 1, 1, MAX_COMPACT_EVERY);
        int divisor = defaults.recentDivisor();
        if (p.has("budget") && p.has("budget_ratio")) {
            throw new PolicyException("budget_ratio", "give either budget or budget_ratio, not both");
        }
        if (p.has("budget_ratio")) {
            double ratio = p.number("budget_ratio", 0);
            if (!(ratio > 0 && ratio <= 1)) {
                throw new PolicyException("budget_ratio", "must be in (0, 1], got " + ratio);
            }
            return new Limits(0, ratio, sinks, recent, divisor, rope, compactEvery, context.quantization());
        }
        if (!p.has("budget")) {
            throw new PolicyException("budget", "is required for policy '" + context.policy()
                    + "' (slots per head per layer), or give budget_ratio");
        }
        int budget = (int) p.integer("budget", 0, 1, Integer.MAX_VALUE);
        Limits limits = new Limits(budget, 0, sinks, recent, divisor, rope, compactEvery, context.quantization());
        if (!limits.admits(budget)) {
            String protectedSlots = divisor == 0 && recent < 0 ? "sinks (" + sinks + ")"
                    : "sinks (" + sinks + ") + " + (window >= 0 ? "window" : "recent") + " ("
                            + limits.recentAt(budget) + ") = " + (sinks + limits.recentAt(budget));
            throw new PolicyException("budget", "must be larger than " + protectedSlots + ", got " + budget);
        }
        return limits;
    }

    /** GPT-2 has no rotation to re-index, so there {@code rope} resolves to {@code original}. */
    private static RopeMode rope(PolicyParams p, RopeMode fallback, boolean rotary) {
        RopeMode rope = RopeMode.fromApiName(p.choice("rope", fallback.apiName(), Set.of("original", "cache-index")));
        if (rotary) {
            return rope;
        }
        if (p.has("rope") && rope == RopeMode.CACHE_INDEX) {
            throw new PolicyException("rope", "cache-index needs rotary position embeddings; this model has "
                    + "learned absolute positions, so only original applies");
        }
        return RopeMode.ORIGINAL;
    }
}
