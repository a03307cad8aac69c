package dev.kvlab.generation;

import dev.kvlab.cache.CacheStats;

/** What a finished generation returns: the text, why it ended, token counts, timings and cache figures. */
public record GenerationResult(
        String text,
        FinishReason finishReason,
        int promptTokens,
        int completionTokens,
        GenerationTimings timings,
        CacheStats cache) {}
