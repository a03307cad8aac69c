package dev.kvlab.generation;

/**
 * Which log-probabilities a generation reports, computed from the model's raw logits (log-softmax
 * before temperature, top-k and top-p), so they describe the model under the request's cache policy
 * rather than the sampler.
 *
 * @param top -1 for none; otherwise each reported token comes with this many most likely alternatives
 *     (0 reports the chosen token's log-probability alone)
 * @param prompt also report every prompt token's log-probability given the tokens before it (the
 *     first has none); when the cache policy compacts, the prompt is then fed one token per step, so
 *     each prediction sees only what the policy kept, as token-by-token perplexity does
 */
public record Logprobs(int top, boolean prompt) {
    /** Nothing reported. */
    public static final Logprobs NONE = new Logprobs(-1, false);

    /** The most alternatives one token may report (OpenAI's limit for completions). */
    public static final int MAX_TOP = 20;

    public Logprobs {
        if (top < -1 || top > MAX_TOP) {
            throw new IllegalArgumentException("top must be -1 (none) or 0 … " + MAX_TOP + ", got " + top);
        }
        if (prompt && top < 0) {
            top = 0;
        }
    }

    /** Whether generated tokens carry log-probabilities. */
    public boolean completion() {
        return top >= 0;
    }
}
