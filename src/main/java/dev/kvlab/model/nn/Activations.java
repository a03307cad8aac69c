package dev.kvlab.model.nn;

import ai.djl.ndarray.NDArray;

/** The two MLP non-linearities kvlab's architectures need, matching Hugging Face bit for bit in f32. */
public final class Activations {
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);

    private Activations() {}

    /** SiLU (swish with β = 1), Llama's gate activation. */
    public static NDArray silu(NDArray x) {
        return x.mul(x.getNDArrayInternal().sigmoid());
    }

    /** GPT-2's {@code gelu_new}: the tanh approximation, not the exact erf GELU. */
    public static NDArray geluNew(NDArray x) {
        NDArray inner = x.pow(3).mul(0.044715f).add(x).mul(SQRT_2_OVER_PI);
        return inner.tanh().add(1f).mul(x).mul(0.5f);
    }
}
