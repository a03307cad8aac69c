package dev.kvlab.model.gpt2;

import ai.djl.ndarray.NDArray;
import java.util.List;

/**
 * GPT-2 tensors. Conv1D weights are stored (in, out) in the checkpoint and used as they are;
 * {@code lmHead} is the transposed token embedding (GPT-2 always ties them).
 */
public record Gpt2Weights(
        NDArray tokenEmbedding,
        NDArray positionEmbedding,
        List<Layer> layers,
        NDArray finalNormWeight,
        NDArray finalNormBias,
        NDArray lmHead,
        long parameterCount) {

    /** One block: ln_1, fused c_attn, c_proj, ln_2, c_fc, mlp c_proj. */
    public record Layer(
            NDArray ln1Weight,
            NDArray ln1Bias,
            NDArray attnWeight,
            NDArray attnBias,
            NDArray attnProjWeight,
            NDArray attnProjBias,
            NDArray ln2Weight,
            NDArray ln2Bias,
            NDArray fcWeight,
            NDArray fcBias,
            NDArray mlpProjWeight,
            NDArray mlpProjBias) {}

    public Layer layer(int index) {
        return layers.get(index);
    }
}
