package dev.kvlab.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;

/**
 * Causal self-attention of the new tokens over a layer's keys and values, computed explicitly so a
 * cache policy can see the probabilities: {@code a = softmax(q·Kᵀ/√d + mask + log n)}, where
 * {@code log n} weights a merged slot as the n tokens it stands for (proportional attention).
 * Grouped-query heads are handled by one batched matmul per KV head, with no per-head loop. The block
 * knows nothing of caches: it returns its output and the probabilities, and the caller decides what
 * the cache does with them.
 */
public final class Attention {
    private Attention() {}

    /**
     * Head layout of one attention layer, and the score scale {@code 1/√d} as a model-lifetime tensor
     * of the compute dtype. Not {@code mul(float)}: DJL would create and free a scalar array on every
     * call, and frees it before autograd (the trainer runs this code) reads it in the backward pass.
     */
    public record Heads(int heads, int kvHeads, int headDim, NDArray scale) {
        public static Heads of(int heads, int kvHeads, int headDim, NDManager manager, DataType dtype) {
            NDArray scale = manager.create((float) (1.0 / Math.sqrt(headDim))).toType(dtype, false);
            NDScope.unregister(scale);
            return new Heads(heads, kvHeads, headDim, scale);
        }

        int group() {
            return heads / kvHeads;
        }
    }

    /**
     * @param output (tokens, heads·headDim), ready for the output projection
     * @param probs (kvHeads, group, tokens, stored): what each query head paid each slot
     */
    public record Result(NDArray output, NDArray probs) {}

    /**
     * @param q (tokens, heads, headDim), rotated as the model requires
     * @param keys (kvHeads, stored, headDim): every slot the new tokens see, themselves included (last)
     * @param values (kvHeads, stored, headDim)
     * @param mask (tokens, stored) additive causal mask, or null for a single token (it sees everything)
     * @param logCount (kvHeads, 1, 1, stored) proportional-attention bias, or null when nothing is merged
     */
    public static Result attend(NDArray q, NDArray keys, NDArray values, NDArray mask, NDArray logCount, Heads h) {
        int tokens = (int) q.getShape().get(0);
        long stored = keys.getShape().get(1);
        // (tokens, heads, d) -> (kvHeads, group·tokens, d), pre-scaled by 1/sqrt(d): a query head's group
        // shares its KV head, so one batched matmul per KV head covers the group. Broadcasting K and V over
        // the group instead would make PyTorch copy them group times per layer and step.
        long rows = (long) h.group() * tokens;
        NDArray scaled = tokens == 1 // one token: the transpose moves only a unit axis, a reshape is the same layout
                ? q.reshape(h.kvHeads(), rows, h.headDim()).mul(h.scale())
                : q.reshape(tokens, h.kvHeads(), h.group(), h.headDim()).transpose(1, 2, 0, 3)
                        .reshape(h.kvHeads(), rows, h.headDim()).mul(h.scale());
        NDArray scores = scaled.matMul(keys.transpose(0, 2, 1)) // (kvHeads, group·tokens, stored)
                .reshape(h.kvHeads(), h.group(), tokens, stored);
        if (mask != null) {
            scores = scores.add(mask.toType(scores.getDataType(), false));
        }
        if (logCount != null) {
            scores = scores.add(logCount);
        }
        NDArray probs = scores.softmax(-1); // (kvHeads, group, tokens, stored)
        NDArray out = probs.reshape(h.kvHeads(), rows, stored).matMul(values) // (kvHeads, group·tokens, d)
                .reshape(h.kvHeads(), h.group(), tokens, h.headDim());
        NDArray output = tokens == 1 ? out.reshape(1, (long) h.heads() * h.headDim())
                : out.transpose(2, 0, 1, 3).reshape(tokens, (long) h.heads() * h.headDim());
        return new Result(output, probs);
    }
}
