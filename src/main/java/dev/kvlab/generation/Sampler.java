package dev.kvlab.generation;

import dev.kvlab.model.DeviceDraws;

/**
 * Picks the next token id from the model's logits for one decode step. Built by
 * {@link Samplers#of(SamplingParams)}; a stochastic sampler owns a seeded random generator, so it
 * belongs to one request and is not thread-safe.
 */
@FunctionalInterface
public interface Sampler {

    /**
     * Returns a token id in {@code [0, logits.length)}; never modifies {@code logits}.
     *
     * @throws IllegalStateException if a logit is NaN or every logit is -Infinity
     */
    int sample(float[] logits);

    /**
     * Picks the next token from one step's logits, reading only what this sampler needs from them.
     * The default copies the whole row; greedy samplers read the best id, top-k samplers the best k,
     * and the others the probabilities computed where the logits are.
     */
    default int sample(StepLogits logits) {
        return sample(logits.last());
    }

    /**
     * The draw this sampler will make at the next {@link #sample(StepLogits)}, for the step to make on
     * the device for all its sequences at once, or null when the sampler reads the logits otherwise
     * (greedy, top-k). A plan takes the random number the draw uses from the sampler's generator, so
     * the next {@code sample(StepLogits)} must follow it.
     */
    default DeviceDraws.Plan plan() {
        return null;
    }
}
