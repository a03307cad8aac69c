package dev.kvlab.model.gpt2;

import dev.kvlab.model.Architecture;
import dev.kvlab.model.ModelConfig;

/**
 * Hugging Face {@code GPT2LMHeadModel} config. GPT-2 uses learned absolute positions, so it cannot
 * run past {@code n_positions}; its MLP is 4 × hidden unless {@code n_inner} says otherwise; the
 * LM head is always tied to {@code wte}.
 */
public record Gpt2Config(
        int vocabSize,
        int hiddenSize,
        int innerSize,
        int numLayers,
        int numHeads,
        int maxPositions,
        double layerNormEps)
        implements ModelConfig {

    @Override
    public Architecture architecture() {
        return Architecture.GPT2;
    }

    @Override
    public int numKvHeads() {
        return numHeads;
    }

    @Override
    public boolean tieWordEmbeddings() {
        return true;
    }
}
