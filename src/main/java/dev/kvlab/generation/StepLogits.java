package dev.kvlab.generation;

/** One sequence's logits from one step, copied to the host only when read. */
interface StepLogits {

    /** The last fed token's row: the distribution of the next token. */
    float[] last();

    /** Row {@code i} of the fed tokens; every row exists only when the step was asked for all positions. */
    float[] row(int i);
}
