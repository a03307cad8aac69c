package dev.kvlab.serving;

import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.cache.policy.PolicyException;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.model.Architecture;
import java.util.List;
import java.util.Map;

/** Checks that {@code /generate} and {@code /v1/completions} share, so both name fields the same way. */
final class RequestChecks {
    static final int MAX_STOP_SEQUENCES = 16;

    private RequestChecks() {}

    /** The stop strings, at most {@value #MAX_STOP_SEQUENCES}, each non-empty and well-formed. */
    static List<String> stops(List<String> stop) {
        if (stop == null) {
            return List.of();
        }
        if (stop.size() > MAX_STOP_SEQUENCES) {
            throw ApiException.badRequest("stop",
                    "at most " + MAX_STOP_SEQUENCES + " stop strings, got " + stop.size());
        }
        for (int i = 0; i < stop.size(); i++) {
            if (stop.get(i) == null || stop.get(i).isEmpty()) {
                throw ApiException.badRequest("stop[" + i + "]", "stop strings must be non-empty");
            }
            TextChecks.requireWellFormed("stop[" + i + "]", stop.get(i));
        }
        return stop;
    }

    /**
     * The request's cache policy, or {@code kvlab.serving.default-kv-cache}'s when it sends none; a
     * registry error becomes a 400 naming {@code kv_cache.<field>}.
     */
    static CachePolicy policy(Map<String, ?> kvCache, KvlabProperties.Serving limits, Architecture architecture) {
        try {
            return PolicyRegistry.create(kvCache != null ? kvCache : limits.defaultKvCacheParams(), architecture);
        } catch (PolicyException e) {
            throw ApiException.badRequest("kv_cache." + e.field(), e.getMessage());
        }
    }
}
