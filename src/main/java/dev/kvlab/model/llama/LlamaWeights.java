package dev.kvlab.model.llama;

import ai.djl.ndarray.NDArray;
import java.util.List;

/**
 * Llama tensors in the layout the forward pass multiplies by: (in, out), with q/k/v and gate/up
 * fused. {@code lmHead} is the transposed embedding when the checkpoint ties them.
 */
public record LlamaWeights(
        NDArray embedTokens, List<Layer> layers, NDArray finalNorm, NDArray lmHead, long parameterCount) {

    /** One decoder block. {@code qkvBias} is null unless the model has attention biases (Qwen2). */
    public record Layer(
            NDArray inputNorm,
            NDArray qkv,
            NDArray qkvBias,
            NDArray out,
            NDArray postAttentionNorm,
            NDArray gateUp,
            NDArray down) {}

    public Layer layer(int index) {
        return layers.get(index);
    }
}
