package dev.kvlab.cache;

import java.util.Arrays;

/**
 * Which positions rotary embeddings use once a cache has been compressed (DESIGN §4).
 * {@code ORIGINAL}: each key keeps its true position. {@code CACHE_INDEX} (StreamingLLM): keys are
 * cached before rotation and rotated by slot index each step, so positions never exceed the cache
 * size and a RoPE model can run past its trained context.
 */
public enum RopeMode {
    ORIGINAL("original"),
    CACHE_INDEX("cache-index");

    private final String apiName;

    RopeMode(String apiName) {
        this.apiName = apiName;
    }

    public String apiName() {
        return apiName;
    }

    public static RopeMode fromApiName(String name) {
        return Arrays.stream(values())
                .filter(m -> m.apiName.equals(name))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException(
                        "unknown rope mode '" + name + "' (expected original or cache-index)"));
    }
}
