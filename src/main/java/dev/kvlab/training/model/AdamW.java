package dev.kvlab.training.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.kvlab.model.weights.SafetensorsFile;
import dev.kvlab.model.weights.SafetensorsWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW (Loshchilov &amp; Hutter 2019): Adam with decoupled weight decay, applied only to parameters
 * marked for decay (matrices and the embedding, not norm gains). Written out in NDArray ops rather
 * than DJL's {@code Optimizer.adamW()} because the trainer needs per-parameter decay, a global
 * gradient scale (clipping) and moments it can save to and restore from a checkpoint.
 *
 * <p>Moments live in the optimizer's own manager. {@link #step} must run with autograd recording
 * off (outside the gradient collector): it updates the weights in place and then zeroes their
 * gradients, which PyTorch otherwise accumulates across backward passes.
 */
public final class AdamW implements AutoCloseable {
    private final float beta1;
    private final float beta2;
    private final float eps;
    private final float weightDecay;
    private final NDManager manager;
    private final Map<String, NDArray[]> moments = new LinkedHashMap<>();
    private long steps;

    public AdamW(List<LlamaParameters.Parameter> parameters, float beta1, float beta2, float eps, float weightDecay,
            NDManager parent) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.manager = parent.newSubManager();
        for (LlamaParameters.Parameter p : parameters) {
            NDArray m = manager.zeros(p.array().getShape());
            NDArray v = manager.zeros(p.array().getShape());
            NDScope.unregister(m, v);
            moments.put(p.name(), new NDArray[] {m, v});
        }
    }

    /** Updates applied so far (the bias-correction step count). */
    public long steps() {
        return steps;
    }

    /**
     * One update from the gradients accumulated in the parameters, then zeroes them.
     *
     * @param gradScale multiplies every gradient first (1, or maxNorm / norm when clipping)
     */
    public void step(List<LlamaParameters.Parameter> parameters, float lr, float gradScale) {
        steps++;
        double correction1 = 1 - Math.pow(beta1, steps);
        double sqrtCorrection2 = Math.sqrt(1 - Math.pow(beta2, steps));
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            for (LlamaParameters.Parameter p : parameters) {
                NDArray w = p.array();
                NDArray[] mv = moments.get(p.name());
                NDArray g = w.getGradient().mul(gradScale);
                mv[0].muli(beta1).addi(g.mul(1 - beta1));
                mv[1].muli(beta2).addi(g.square().muli(1 - beta2));
                if (p.decay() && weightDecay > 0) {
                    w.muli(1 - lr * weightDecay);
                }
                // w -= lr · m̂ / (√v̂ + eps), with m̂ = m / (1 − β1ᵗ) and √v̂ = √v / √(1 − β2ᵗ)
                NDArray denominator = mv[1].sqrt().muli((float) (1 / sqrtCorrection2)).addi(eps);
                w.subi(mv[0].div(denominator).muli((float) (lr / correction1)));
                JniUtils.zeroGrad((PtNDArray) w);
            }
        }
    }

    /** The global L2 norm of all accumulated gradients (one native sync). */
    public static float gradientNorm(List<LlamaParameters.Parameter> parameters) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray total = null;
            for (LlamaParameters.Parameter p : parameters) {
                NDArray s = p.array().getGradient().square().sum();
                total = total == null ? s : total.add(s);
            }
            return (float) Math.sqrt(total.getFloat());
        }
    }

    /** Writes the moments ({@code m.NAME}, {@code v.NAME}) and nothing else; the step count goes with the checkpoint. */
    public void save(Path file) {
        SafetensorsWriter w = new SafetensorsWriter();
        for (var e : moments.entrySet()) {
            long[] shape = e.getValue()[0].getShape().getShape();
            w.put("m." + e.getKey(), e.getValue()[0].toFloatArray(), shape);
            w.put("v." + e.getKey(), e.getValue()[1].toFloatArray(), shape);
        }
        w.write(file, SafetensorsWriter.Dtype.F32);
    }

    /** Restores moments written by {@link #save} and the step count kept beside them. */
    public void load(Path file, long steps) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (var e : moments.entrySet()) {
                NDArray[] mv = e.getValue();
                for (int k = 0; k < 2; k++) {
                    long[] shape = mv[k].getShape().getShape();
                    float[] values = f.readFloats((k == 0 ? "m." : "v.") + e.getKey(), shape);
                    NDArray restored = LlamaParameters.tensor(manager, values, shape);
                    mv[k].close();
                    mv[k] = restored;
                }
            }
        }
        this.steps = steps;
    }

    @Override
    public void close() {
        manager.close();
    }
}
