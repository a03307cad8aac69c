package dev.kvlab.generation;

import dev.kvlab.cache.CacheMap;
import dev.kvlab.cache.CacheStats;
import java.util.List;

/**
 * What a finished generation returns: the text, why it ended, token counts, timings and cache
 * figures, and the log-probabilities the request asked for.
 *
 * @param promptLogprobs every prompt token's, in order, when requested (else empty)
 * @param completionLogprobs every generated token's, in order, when requested (else empty)
 * @param cacheMap what the cache held at the end, when requested (else null)
 */
public record GenerationResult(
        String text,
        FinishReason finishReason,
        int promptTokens,
        int completionTokens,
        GenerationTimings timings,
        CacheStats cache,
        List<TokenLogprob> promptLogprobs,
        List<TokenLogprob> completionLogprobs,
        CacheMap cacheMap) {

    public GenerationResult {
        promptLogprobs = List.copyOf(promptLogprobs);
        completionLogprobs = List.copyOf(completionLogprobs);
    }

    /** A result without log-probabilities. */
    public GenerationResult(String text, FinishReason finishReason, int promptTokens, int completionTokens,
            GenerationTimings timings, CacheStats cache) {
        this(text, finishReason, promptTokens, completionTokens, timings, cache, List.of(), List.of(), null);
    }
}
