package dev.kvlab.model.llama;

import dev.kvlab.model.Architecture;
import dev.kvlab.model.ModelConfig;

/**
 * Hugging Face {@code LlamaForCausalLM} config (also Mistral without sliding window and Qwen2,
 * whose q/k/v projections carry a bias: {@code attentionBias}).
 *
 * @param ropeScaling null when the checkpoint has no {@code rope_scaling}; only type {@code llama3}
 *     is supported
 */
public record LlamaConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDimOverride,
        int maxPositions,
        double rmsNormEps,
        double ropeTheta,
        Llama3RopeScaling ropeScaling,
        boolean attentionBias,
        boolean tieWordEmbeddings)
        implements ModelConfig {

    /** {@code rope_scaling} of type {@code llama3} (Llama 3.1+): frequency-dependent NTK scaling. */
    public record Llama3RopeScaling(
            double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {}

    @Override
    public Architecture architecture() {
        return Architecture.LLAMA;
    }

    /** {@code head_dim} when config.json gives it (0 otherwise), else hidden / heads. */
    @Override
    public int headDim() {
        return headDimOverride > 0 ? headDimOverride : hiddenSize / numHeads;
    }
}
