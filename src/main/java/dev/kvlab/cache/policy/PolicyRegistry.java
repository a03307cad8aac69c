package dev.kvlab.cache.policy;

import dev.kvlab.cache.PositionEncoding;
import java.util.List;
import java.util.Map;

/**
 * Builds the {@link CachePolicy} a request asks for from its {@code kv_cache} object
 * ({@code {"policy": "h2o", "budget": 256, …}}), over the shipped policies below, so {@code
 * /generate}, the OpenAI endpoint and experiments accept the same objects and reject the same
 * mistakes (DESIGN §4). Each call returns a fresh instance: a policy holds one request's state.
 *
 * <p>How to add a policy: write one class that declares its {@code TYPE} ({@link PolicyType}: its
 * name, the keys it accepts and a factory; a compressing policy extends {@link BoundedPolicy} and
 * uses {@link PolicyType#bounded} with its {@link BoundedPolicy.Defaults}, so the shared budget
 * parameters are read by {@link BoundedParams}), then add one {@code .with(…)} line below. The
 * policy test matrix iterates these names, so the new policy runs through it unchanged.
 */
public final class PolicyRegistry {

    /** What an absent {@code kv_cache}, or one without {@code policy}, means. */
    public static final String DEFAULT_POLICY = "full";

    private static final PolicyTypes SHIPPED = PolicyTypes.none()
            .with(FullPolicy.TYPE)
            .with(StreamingPolicy.TYPE)
            .with(H2oPolicy.TYPE)
            .with(TovaPolicy.TYPE)
            .with(EntropyMergePolicy.TYPE)
            .with(RandomPolicy.TYPE)
            .with(SnapKvPolicy.TYPE)
            .with(PyramidKvPolicy.TYPE)
            .with(KnormPolicy.TYPE);

    private PolicyRegistry() {}

    /** The policy names a request may use. */
    public static List<String> names() {
        return SHIPPED.names();
    }

    /**
     * Like {@link #create(Map, PositionEncoding)} for a model with rotary positions (Llama); prefer that
     * form, which also rejects {@code rope=cache-index} for GPT-2.
     */
    public static CachePolicy create(Map<String, ?> kvCache) {
        return create(kvCache, PositionEncoding.ROTARY);
    }

    /**
     * @param kvCache the {@code kv_cache} object: {@code policy} plus that policy's parameters,
     *     JSON-decoded; null or empty means {@code full}
     * @param positions the model's (its architecture); GPT-2 has learned positions, so {@code rope=cache-index} is
     *     refused for it and {@code rope} resolves to {@code original}
     * @throws PolicyException naming the key at fault
     */
    public static CachePolicy create(Map<String, ?> kvCache, PositionEncoding positions) {
        return SHIPPED.create(kvCache, positions);
    }

    /** The shipped policy types, which tests extend with policies of their own ({@link PolicyTypes#with}). */
    static PolicyTypes shipped() {
        return SHIPPED;
    }
}
