package dev.kvlab.generation;

import dev.kvlab.cache.policy.CachePolicy;
import java.util.List;

/**
 * One generation, already validated: the prompt, how many tokens at most, how to sample, where to
 * stop, and the cache policy instance this request owns.
 *
 * @param ignoreEos keep generating past the model's end-of-sequence tokens (benchmarks that need a
 *     fixed number of tokens, as vLLM's {@code ignore_eos})
 * @param logprobs which log-probabilities to report ({@link Logprobs#NONE} for none)
 * @param stopTokens token ids that end the output as the model's end-of-sequence tokens do (a chat
 *     template's end-of-turn tokens such as {@code <|eot_id|>}); like them, not part of the text
 * @param cacheMap report what the cache holds at the end ({@link GenerationResult#cacheMap})
 */
public record GenerationRequest(String prompt, int maxNewTokens, SamplingParams sampling, List<String> stop,
        CachePolicy policy, boolean ignoreEos, Logprobs logprobs, List<Integer> stopTokens, boolean cacheMap) {

    public GenerationRequest {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("maxNewTokens must be ≥ 0");
        }
        stop = stop == null ? List.of() : List.copyOf(stop);
        logprobs = logprobs == null ? Logprobs.NONE : logprobs;
        stopTokens = stopTokens == null ? List.of() : List.copyOf(stopTokens);
    }

    /** A request without a cache map. */
    public GenerationRequest(String prompt, int maxNewTokens, SamplingParams sampling, List<String> stop,
            CachePolicy policy, boolean ignoreEos, Logprobs logprobs, List<Integer> stopTokens) {
        this(prompt, maxNewTokens, sampling, stop, policy, ignoreEos, logprobs, stopTokens, false);
    }

    /** A request that stops at no token but the model's end-of-sequence ones. */
    public GenerationRequest(String prompt, int maxNewTokens, SamplingParams sampling, List<String> stop,
            CachePolicy policy, boolean ignoreEos, Logprobs logprobs) {
        this(prompt, maxNewTokens, sampling, stop, policy, ignoreEos, logprobs, List.of());
    }

    /** A request that reports no log-probabilities. */
    public GenerationRequest(String prompt, int maxNewTokens, SamplingParams sampling, List<String> stop,
            CachePolicy policy, boolean ignoreEos) {
        this(prompt, maxNewTokens, sampling, stop, policy, ignoreEos, Logprobs.NONE);
    }

    /** A request that stops at the model's end-of-sequence tokens. */
    public GenerationRequest(String prompt, int maxNewTokens, SamplingParams sampling, List<String> stop,
            CachePolicy policy) {
        this(prompt, maxNewTokens, sampling, stop, policy, false, Logprobs.NONE);
    }
}
