package dev.kvlab.generation;

import dev.kvlab.cache.policy.CachePolicy;
import java.util.List;

/**
 * One generation, already validated: the prompt, how many tokens at most, how to sample, where to
 * stop, and the cache policy instance this request owns.
 *
 * @param ignoreEos keep generating past the model's end-of-sequence tokens (benchmarks that need a
 *     fixed number of tokens, as vLLM's {@code ignore_eos})
 */
public record GenerationRequest(String prompt, int maxNewTokens, SamplingParams sampling, List<String> stop,
        CachePolicy policy, boolean ignoreEos) {

    public GenerationRequest {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("maxNewTokens must be ≥ 0");
        }
        stop = stop == null ? List.of() : List.copyOf(stop);
    }

    /** A request that stops at the model's end-of-sequence tokens. */
    public GenerationRequest(String prompt, int maxNewTokens, SamplingParams sampling, List<String> stop,
            CachePolicy policy) {
        this(prompt, maxNewTokens, sampling, stop, policy, false);
    }
}
