package dev.kvlab.model;

import dev.kvlab.cache.PositionEncoding;

/**
 * The model architectures kvlab can run, one per package under {@code model/} (Mistral and Qwen2
 * checkpoints run as {@link #LLAMA}), with the facts about each that code outside its package
 * needs. Callers ask these methods rather than compare architectures, so an architecture states its
 * facts in one place.
 */
public enum Architecture implements PositionEncoding {
    LLAMA(true, true),
    GPT2(false, false);

    private final boolean rotaryPositions;
    private final boolean prependsBos;

    Architecture(boolean rotaryPositions, boolean prependsBos) {
        this.rotaryPositions = rotaryPositions;
        this.prependsBos = prependsBos;
    }

    /**
     * Whether keys carry their position as a rotation (RoPE) rather than as a learned embedding added
     * to the input: only then can a compressed cache choose which positions to rotate by.
     */
    @Override
    public boolean rotaryPositions() {
        return rotaryPositions;
    }

    /**
     * Whether prompts start with the model's bos token: Llama checkpoints are trained with one before
     * every document; GPT-2 is not.
     */
    public boolean prependsBos() {
        return prependsBos;
    }
}
