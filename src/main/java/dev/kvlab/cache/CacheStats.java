package dev.kvlab.cache;

import java.util.Map;

/**
 * What a request's cache holds, as reported in the {@code kv_cache} block of a response. Byte
 * figures come from {@link KvSpec}; {@code evicted} and {@code merged} are slot events averaged over
 * layers and KV heads, i.e. "tokens" as a reader of the response thinks of them.
 */
public record CacheStats(
        String policy,
        Map<String, Object> params,
        long seenTokens,
        long storedTokens,
        long bytes,
        long peakBytes,
        long fullCacheBytes,
        double compressionRatio,
        long evicted,
        long merged) {}
