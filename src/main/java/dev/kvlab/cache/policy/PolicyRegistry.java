package dev.kvlab.cache.policy;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Builds the {@link CachePolicy} a request asks for from its {@code kv_cache} object
 * ({@code {"policy": "h2o", "budget": 256, …}}). The one place that knows every policy name and the
 * parameters each takes, so {@code /generate}, the OpenAI endpoint and experiments accept the same
 * objects and reject the same mistakes. Each call returns a fresh instance: a policy holds one
 * request's state.
 */
public final class PolicyRegistry {

    /** What an absent {@code kv_cache}, or one without {@code policy}, means. */
    public static final String DEFAULT_POLICY = "full";

    private static final List<String> NAMES = List.of("full");

    private PolicyRegistry() {}

    /** The policy names a request may use. */
    public static List<String> names() {
        return NAMES;
    }

    /**
     * @param spec the {@code kv_cache} object: {@code policy} plus that policy's parameters; null or
     *     empty means {@code full}
     * @throws PolicyException naming the key at fault: an unknown policy, or a parameter the policy
     *     does not take
     */
    public static CachePolicy create(Map<String, ?> spec) {
        Map<String, Object> params = spec == null ? new LinkedHashMap<>() : new LinkedHashMap<>(spec);
        Object name = params.remove("policy");
        if (name == null) {
            name = DEFAULT_POLICY;
        }
        if (!(name instanceof String policy)) {
            throw new PolicyException("policy", "must be a string, one of " + String.join(", ", NAMES));
        }
        return switch (policy) {
            case "full" -> full(params);
            default -> throw new PolicyException("policy",
                    "unknown policy '" + policy + "'; known policies: " + String.join(", ", NAMES));
        };
    }

    private static CachePolicy full(Map<String, Object> params) {
        rejectUnknown("full", params, Set.of());
        return new FullPolicy();
    }

    /** Fails on the first parameter (in the request's order) that {@code policy} does not take. */
    private static void rejectUnknown(String policy, Map<String, Object> params, Set<String> accepted) {
        List<String> unknown = new ArrayList<>(params.keySet());
        unknown.removeAll(accepted);
        if (unknown.isEmpty()) {
            return;
        }
        String what = accepted.isEmpty() ? "takes no parameters"
                : "takes only " + String.join(", ", new TreeSet<>(accepted));
        throw new PolicyException(unknown.get(0), "policy '" + policy + "' " + what + "; got '" + unknown.get(0) + "'");
    }
}
