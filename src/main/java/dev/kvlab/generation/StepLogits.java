package dev.kvlab.generation;

import dev.kvlab.model.DeviceDraws;
import dev.kvlab.model.ForwardPass;

/**
 * One sequence's logits from one step. Each method copies to the host only what it returns, so a
 * sampler that needs the best id or the best k logits never copies a vocabulary of floats.
 */
interface StepLogits {

    /** The last fed token's row: the distribution of the next token. */
    float[] last();

    /** Row {@code i} of the fed tokens; every row exists only when the step was asked for all positions. */
    float[] row(int i);

    /** The last row's largest logit and its id, lowest id on ties. */
    ForwardPass.Argmax argmax();

    /** The last row's {@code k} largest logits and their ids, highest first. */
    ForwardPass.Top top(int k);

    /**
     * {@code softmax(last row / temperature)}, computed where the logits are; NaN throughout when the
     * row holds a NaN or its largest logit is infinite.
     */
    float[] probabilities(double temperature);

    /** The draw the sampler planned before the step ({@link Sampler#plan}), made where the logits are; null if none. */
    DeviceDraws.Drawn drawn();
}
