package dev.kvlab.cache.policy;

import dev.kvlab.cache.policy.BoundedPolicy.Defaults;
import dev.kvlab.cache.policy.BoundedPolicy.Limits;
import dev.kvlab.cache.PositionEncoding;
import dev.kvlab.cache.Quantization;
import java.util.Set;
import java.util.TreeSet;

/**
 * A policy as {@link PolicyTypes} knows it: the name a request gives, the {@code kv_cache} keys it
 * accepts besides {@code policy}, and the factory that reads them. Each policy class declares its own
 * {@code TYPE}, so the name, defaults and parameters of a policy are written once, next to its code.
 *
 * @param keys every key the policy accepts; a key outside them is refused before the factory runs
 */
record PolicyType(String name, Set<String> keys, Factory factory) {

    /**
     * What a factory may need beyond the parameters.
     *
     * @param quantization the request's storage, read for every policy by {@link QuantizationParams}
     */
    record Context(String policy, PositionEncoding positions, Quantization quantization) {

        /** GPT-2 has learned absolute positions; the others rotate keys (RoPE). A model not named is rotary. */
        boolean rotary() {
            return positions == null || positions.rotaryPositions();
        }
    }

    /** Builds a fresh policy from parameters already checked against {@link #keys}. */
    @FunctionalInterface
    interface Factory {
        CachePolicy create(PolicyParams params, Context context);
    }

    /** Builds a bounded policy from the shared limits, read by {@link BoundedParams}, and its own parameters. */
    @FunctionalInterface
    interface BoundedFactory {
        CachePolicy create(Limits limits, PolicyParams params);
    }

    PolicyType {
        keys = Set.copyOf(keys);
    }

    /** A bounded policy: {@link BoundedParams#KEYS} plus {@code ownKeys}, its limits read with {@code defaults}. */
    static PolicyType bounded(String name, Defaults defaults, Set<String> ownKeys, BoundedFactory factory) {
        return new PolicyType(name, withBoundedKeys(ownKeys),
                (params, context) -> factory.create(BoundedParams.read(params, context, defaults), params));
    }

    /** {@link BoundedParams#KEYS} and {@code ownKeys}. */
    static Set<String> withBoundedKeys(Set<String> ownKeys) {
        Set<String> all = new TreeSet<>(BoundedParams.KEYS);
        all.addAll(ownKeys);
        return all;
    }

    /** Whether the policy takes a {@code budget}: every compressing policy does. */
    boolean takesBudget() {
        return keys.contains("budget");
    }
}
