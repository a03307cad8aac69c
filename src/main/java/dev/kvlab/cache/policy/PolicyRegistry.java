package dev.kvlab.cache.policy;

import dev.kvlab.cache.RopeMode;
import dev.kvlab.cache.policy.BoundedPolicy.Limits;
import dev.kvlab.cache.policy.EntropyMergePolicy.Priority;
import dev.kvlab.model.Architecture;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Builds the {@link CachePolicy} a request asks for from its {@code kv_cache} object
 * ({@code {"policy": "h2o", "budget": 256, …}}). The one place that knows every policy name, the
 * parameters each takes and their defaults (DESIGN §4), so {@code /generate}, the OpenAI endpoint
 * and experiments accept the same objects and reject the same mistakes. Each call returns a fresh
 * instance: a policy holds one request's state.
 *
 * <p>Parameters of the bounded policies: exactly one of {@code budget} (slots per head per layer)
 * or {@code budget_ratio} (share of the tokens seen, in (0, 1]); {@code sinks}; {@code recent}
 * (not for {@code streaming}, whose window is what the budget leaves after the sinks); {@code rope}
 * ({@code original} | {@code cache-index}); {@code compact_every} (compact once this many slots are
 * over the budget, default 1); and {@code priority} + {@code similarity} for {@code
 * entropy-merge}, {@code seed} for {@code random}.
 */
public final class PolicyRegistry {

    /** What an absent {@code kv_cache}, or one without {@code policy}, means. */
    public static final String DEFAULT_POLICY = "full";

    private static final List<String> NAMES = List.of("full", "streaming", "h2o", "tova", "entropy-merge", "random",
            "snapkv", "knorm");
    private static final Set<String> BOUNDED = Set.of("budget", "budget_ratio", "sinks", "rope", "compact_every");
    /** The most {@code compact_every} a request may ask for: beyond this the bound stops meaning much. */
    static final int MAX_COMPACT_EVERY = 1024;
    private static final Set<String> WITH_RECENT = union(BOUNDED, Set.of("recent"));

    private PolicyRegistry() {}

    /** The policy names a request may use. */
    public static List<String> names() {
        return NAMES;
    }

    /**
     * Like {@link #create(Map, Architecture)} for a model with rotary positions (Llama); prefer that
     * form, which also rejects {@code rope=cache-index} for GPT-2.
     */
    public static CachePolicy create(Map<String, ?> kvCache) {
        return create(kvCache, Architecture.LLAMA);
    }

    /**
     * @param kvCache the {@code kv_cache} object: {@code policy} plus that policy's parameters,
     *     JSON-decoded; null or empty means {@code full}
     * @param architecture the model's; GPT-2 has learned positions, so {@code rope=cache-index} is
     *     refused for it and {@code rope} resolves to {@code original}
     * @throws PolicyException naming the key at fault
     */
    public static CachePolicy create(Map<String, ?> kvCache, Architecture architecture) {
        Map<String, Object> params = kvCache == null ? new LinkedHashMap<>() : new LinkedHashMap<>(kvCache);
        Object name = params.remove("policy");
        if (name == null) {
            name = DEFAULT_POLICY;
        }
        if (!(name instanceof String policy)) {
            throw new PolicyException("policy", "must be a string, one of " + String.join(", ", NAMES));
        }
        PolicyParams p = new PolicyParams(params);
        boolean rotary = architecture == null || architecture.rotaryPositions();
        return switch (policy) {
            case "full" -> {
                accept("full", params, Set.of());
                yield new FullPolicy();
            }
            case "streaming" -> {
                accept(policy, params, BOUNDED);
                yield new StreamingPolicy(limits(policy, p, 4, 0, RopeMode.CACHE_INDEX, rotary));
            }
            case "h2o" -> {
                accept(policy, params, WITH_RECENT);
                yield new H2oPolicy(limits(policy, p, 0, 2, RopeMode.ORIGINAL, rotary));
            }
            case "tova" -> {
                accept(policy, params, WITH_RECENT);
                yield new TovaPolicy(limits(policy, p, 0, 0, RopeMode.ORIGINAL, rotary));
            }
            case "entropy-merge" -> {
                accept(policy, params, union(WITH_RECENT, Set.of("priority", "similarity")));
                Limits limits = limits(policy, p, 4, 4, RopeMode.ORIGINAL, rotary);
                Priority priority = Priority.valueOf(p.choice("priority", "entropy", Set.of("entropy", "attention"))
                        .toUpperCase(Locale.ROOT));
                double similarity = p.number("similarity", 0.0);
                if (similarity < -1 || similarity > 1) {
                    throw new PolicyException("similarity", "is a cosine similarity threshold in [-1, 1], got " + similarity);
                }
                yield new EntropyMergePolicy(limits, priority, (float) similarity);
            }
            case "random" -> {
                accept(policy, params, union(WITH_RECENT, Set.of("seed")));
                Limits limits = limits(policy, p, 4, 4, RopeMode.ORIGINAL, rotary);
                yield new RandomPolicy(limits, p.integer("seed", 0, Long.MIN_VALUE, Long.MAX_VALUE));
            }
            case "snapkv" -> {
                accept(policy, params, union(BOUNDED, Set.of("window", "kernel", "pooling")));
                int window = (int) p.integer("window", 32, 1, Integer.MAX_VALUE);
                int kernel = (int) p.integer("kernel", 5, 1, Integer.MAX_VALUE);
                if (kernel % 2 == 0) {
                    throw new PolicyException("kernel", "must be odd, so the pooling is centred on each slot, got " + kernel);
                }
                SnapKvPolicy.Pooling pooling = SnapKvPolicy.Pooling.valueOf(
                        p.choice("pooling", "avg", Set.of("avg", "max")).toUpperCase(Locale.ROOT));
                yield new SnapKvPolicy(limits(policy, p, 0, 0, RopeMode.ORIGINAL, rotary, window), window, kernel,
                        pooling);
            }
            case "knorm" -> {
                accept(policy, params, union(WITH_RECENT, Set.of("keep")));
                boolean keepHigh = p.choice("keep", "low", Set.of("low", "high")).equals("high");
                yield new KnormPolicy(limits(policy, p, 0, 0, RopeMode.ORIGINAL, rotary), keepHigh);
            }
            default -> throw new PolicyException("policy",
                    "unknown policy '" + policy + "'; known policies: " + String.join(", ", NAMES));
        };
    }

    /**
     * Reads the parameters every bounded policy shares.
     *
     * @param recentDivisor the default {@code recent} is {@code budget / recentDivisor} (0: none)
     */
    private static Limits limits(String policy, PolicyParams p, int defaultSinks, int recentDivisor,
            RopeMode defaultRope, boolean rotary) {
        return limits(policy, p, defaultSinks, recentDivisor, defaultRope, rotary, -1);
    }

    /** @param fixedRecent the protected newest slots when the policy sets them itself (SnapKV's window), else -1 */
    private static Limits limits(String policy, PolicyParams p, int defaultSinks, int recentDivisor,
            RopeMode defaultRope, boolean rotary, int fixedRecent) {
        int sinks = (int) p.integer("sinks", defaultSinks, 0, Integer.MAX_VALUE);
        int recent = fixedRecent >= 0 ? fixedRecent : (int) p.integer("recent", -1, 0, Integer.MAX_VALUE);
        RopeMode rope = rope(p, defaultRope, rotary);
        int compactEvery = (int) p.integer("compact_every", 1, 1, MAX_COMPACT_EVERY);
        if (p.has("budget") && p.has("budget_ratio")) {
            throw new PolicyException("budget_ratio", "give either budget or budget_ratio, not both");
        }
        if (p.has("budget_ratio")) {
            double ratio = p.number("budget_ratio", 0);
            if (!(ratio > 0 && ratio <= 1)) {
                throw new PolicyException("budget_ratio", "must be in (0, 1], got " + ratio);
            }
            return new Limits(0, ratio, sinks, recent, recentDivisor, rope, compactEvery);
        }
        if (!p.has("budget")) {
            throw new PolicyException("budget", "is required for policy '" + policy
                    + "' (slots per head per layer), or give budget_ratio");
        }
        int budget = (int) p.integer("budget", 0, 1, Integer.MAX_VALUE);
        Limits limits = new Limits(budget, 0, sinks, recent, recentDivisor, rope, compactEvery);
        if (!limits.admits(budget)) {
            String protectedSlots = recentDivisor == 0 && recent < 0 ? "sinks (" + sinks + ")"
                    : "sinks (" + sinks + ") + " + (fixedRecent >= 0 ? "window" : "recent") + " ("
                            + limits.recentAt(budget) + ") = " + (sinks + limits.recentAt(budget));
            throw new PolicyException("budget", "must be larger than " + protectedSlots + ", got " + budget);
        }
        return limits;
    }

    private static RopeMode rope(PolicyParams p, RopeMode fallback, boolean rotary) {
        RopeMode rope = RopeMode.fromApiName(p.choice("rope", fallback.apiName(), Set.of("original", "cache-index")));
        if (rotary) {
            return rope;
        }
        if (p.has("rope") && rope == RopeMode.CACHE_INDEX) {
            throw new PolicyException("rope", "cache-index needs rotary position embeddings; this model (GPT-2) has "
                    + "learned absolute positions, so only original applies");
        }
        return RopeMode.ORIGINAL;
    }

    /** Fails on the first parameter (in the request's order) that {@code policy} does not take. */
    private static void accept(String policy, Map<String, Object> params, Set<String> accepted) {
        List<String> unknown = new ArrayList<>(params.keySet());
        unknown.removeAll(accepted);
        if (unknown.isEmpty()) {
            return;
        }
        String what = accepted.isEmpty() ? "takes no parameters"
                : "takes only " + String.join(", ", new TreeSet<>(accepted));
        throw new PolicyException(unknown.get(0), "does not apply: policy '" + policy + "' " + what
                + "; got '" + unknown.get(0) + "'");
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> all = new TreeSet<>(a);
        all.addAll(b);
        return Set.copyOf(all);
    }
}
