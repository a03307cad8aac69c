package dev.kvlab.cache.policy;

import dev.kvlab.cache.PositionEncoding;
import dev.kvlab.cache.Quantization;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * An immutable set of {@link PolicyType}s by name, in registration order, that builds the policy a
 * {@code kv_cache} object asks for. Immutable so that one instance serves every request thread
 * without locks, and so that a test can extend the shipped set ({@link #with}) without the server,
 * or another test, seeing its policies.
 */
final class PolicyTypes {

    private final Map<String, PolicyType> types;
    private final List<String> names;

    private PolicyTypes(Map<String, PolicyType> types) {
        this.types = Collections.unmodifiableMap(types);
        this.names = List.copyOf(types.keySet());
    }

    /** The empty set, to {@link #with} types onto. */
    static PolicyTypes none() {
        return new PolicyTypes(new LinkedHashMap<>());
    }

    /**
     * This set and {@code type}.
     *
     * @throws IllegalArgumentException when a type of that name is already in the set
     */
    PolicyTypes with(PolicyType type) {
        if (types.containsKey(type.name())) {
            throw new IllegalArgumentException("policy '" + type.name() + "' is already registered");
        }
        Map<String, PolicyType> more = new LinkedHashMap<>(types);
        more.put(type.name(), type);
        return new PolicyTypes(more);
    }

    /** The policy names a request may use, in registration order. */
    List<String> names() {
        return names;
    }

    /** The type registered as {@code name}, or null. */
    PolicyType type(String name) {
        return types.get(name);
    }

    /**
     * @param kvCache {@code policy} plus that policy's parameters, JSON-decoded; null or empty means
     *     {@link PolicyRegistry#DEFAULT_POLICY}
     * @throws PolicyException naming the key at fault
     */
    CachePolicy create(Map<String, ?> kvCache, PositionEncoding positions) {
        Map<String, Object> params = kvCache == null ? new LinkedHashMap<>() : new LinkedHashMap<>(kvCache);
        Object name = params.remove("policy");
        if (name == null) {
            name = PolicyRegistry.DEFAULT_POLICY;
        }
        if (!(name instanceof String policy)) {
            throw new PolicyException("policy", "must be a string, one of " + String.join(", ", names));
        }
        PolicyType type = types.get(policy);
        if (type == null) {
            throw new PolicyException("policy",
                    "unknown policy '" + policy + "'; known policies: " + String.join(", ", names));
        }
        Quantization quantization = QuantizationParams.take(params);
        accept(type, params);
        CachePolicy created = type.factory().create(new PolicyParams(params),
                new PolicyType.Context(policy, positions, quantization));
        if (!created.quantization().equals(quantization)) {
            throw new IllegalStateException("policy '" + policy + "' ignores its quantization");
        }
        return created;
    }

    /** Fails on the first parameter (in the request's order) that the type does not take. */
    private static void accept(PolicyType type, Map<String, Object> params) {
        List<String> unknown = new ArrayList<>(params.keySet());
        unknown.removeAll(type.keys());
        if (unknown.isEmpty()) {
            return;
        }
        String what = type.keys().isEmpty() ? "takes no parameters"
                : "takes only " + String.join(", ", new TreeSet<>(type.keys()));
        throw new PolicyException(unknown.get(0), "does not apply: policy '" + type.name() + "' " + what
                + "; got '" + unknown.get(0) + "'");
    }
}
