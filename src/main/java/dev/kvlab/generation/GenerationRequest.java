package dev.kvlab.generation;

import dev.kvlab.cache.policy.CachePolicy;
import java.util.List;

/**
 * One generation, already validated: the prompt, how many tokens at most, how to sample, where to
 * stop, and the cache policy instance this request owns.
 */
public record GenerationRequest(
        String prompt, int maxNewTokens, SamplingParams sampling, List<String> stop, CachePolicy policy) {

    public GenerationRequest {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("maxNewTokens must be ≥ 0");
        }
        stop = stop == null ? List.of() : List.copyOf(stop);
    }
}
