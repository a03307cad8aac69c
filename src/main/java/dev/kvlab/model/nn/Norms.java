package dev.kvlab.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/** Normalization layers as static functions over NDArrays; weights are passed in, never owned. */
public final class Norms {
    private Norms() {}

    /**
     * Llama RMSNorm: {@code x / sqrt(mean(x²) + eps) * w}, computed in f32 as Hugging Face does, so
     * f16 activations cannot overflow in the square.
     *
     * @param eps an f32 scalar tensor the model keeps: adding a {@code float} would create and free
     *     a scalar array on every call
     */
    public static NDArray rms(NDArray x, NDArray weight, NDArray eps) {
        DataType dtype = x.getDataType();
        NDArray x32 = dtype == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
        NDArray inv = x32.square().mean(new int[] {-1}, true).add(eps).sqrt();
        NDArray normed = x32.div(inv);
        if (dtype != DataType.FLOAT32) {
            normed = normed.toType(dtype, false);
        }
        return normed.mul(weight);
    }

    /** GPT-2 LayerNorm over the last axis, with biased variance, as {@code torch.nn.LayerNorm}. */
    public static NDArray layer(NDArray x, NDArray weight, NDArray bias, float eps) {
        Shape normalized = new Shape(x.getShape().get(x.getShape().dimension() - 1));
        return x.getNDArrayInternal().layerNorm(x, normalized, weight, bias, eps).singletonOrThrow();
    }
}
