package dev.kvlab.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.function.IntUnaryOperator;

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
        long rows = (long) h.group() * tokens;
        NDArray scaled = groupedQueries(q, h);
        NDArray scores = scaled.matMul(keys.transpose(0, 2, 1)) // (kvHeads, group·tokens, stored)
                .reshape(h.kvHeads(), h.group(), tokens, stored);
        if (mask != null) {
            scores = scores.add(mask.toType(scores.getDataType(), false));
        }
        if (logCount != null) {
            scores = scores.add(logCount);
        }
        NDArray probs = scores.softmax(-1); // (kvHeads, group, tokens, stored)
        NDArray out = probs.reshape(h.kvHeads(), rows, stored).matMul(values); // (kvHeads, group·tokens, d)
        return new Result(ungrouped(out, tokens, h), probs);
    }

    /** Reads slots {@code [from, to)} of a layer's keys or values, (kvHeads, to − from, headDim). */
    @FunctionalInterface
    public interface SlotReader {
        NDArray read(int from, int to);
    }

    /**
     * The output of {@link #attend} computed over the slots block after block, with a running maximum
     * and sum (the online softmax of FlashAttention): the scores of one block exist at a time, and each
     * block's temporaries are freed before the next is read, so a pass holds {@code tokens × heads ×
     * block} scores, not {@code tokens × heads × stored}. The probabilities are never formed; a caller
     * whose policy reads them uses {@link #attend}.
     *
     * @param blockEnd where the block starting at a slot ends (exclusive, after the start)
     * @param keys reads the keys of a range of slots (a view, or slots dequantized on the spot)
     * @param causal whether the last {@code tokens} slots are the new tokens, each seeing only those
     *     before it (the mask is made for the blocks that hold them); false for one token
     * @param logCount (kvHeads, 1, 1, stored) or null
     * @return (tokens, heads·headDim)
     */
    public static NDArray attendInBlocks(NDArray q, int stored, IntUnaryOperator blockEnd, SlotReader keys,
            SlotReader values, boolean causal, NDArray logCount, Heads h) {
        int tokens = (int) q.getShape().get(0);
        long rows = (long) h.group() * tokens;
        NDArray scaled = groupedQueries(q, h);
        NDArray max = null; // (kvHeads, rows, 1): the largest score so far
        NDArray sum = null; // (kvHeads, rows, 1): Σ exp(score − max) so far
        NDArray acc = null; // (kvHeads, rows, d): Σ exp(score − max)·v so far
        try {
            for (int from = 0, to; from < stored; from = to) {
                to = blockEnd.applyAsInt(from);
                try (NDScope scope = new NDScope()) {
                    NDArray scores = scaled.matMul(keys.read(from, to).transpose(0, 2, 1));
                    boolean masked = causal && to > stored - tokens + 1;
                    if (masked || logCount != null) {
                        scores = scores.reshape(h.kvHeads(), h.group(), tokens, to - from);
                        if (masked) {
                            scores = scores.add(causalMask(q.getManager(), tokens, stored, from, to)
                                    .toType(scores.getDataType(), false));
                        }
                        if (logCount != null) {
                            scores = scores.add(logCount.get(":, :, :, {}:{}", from, to));
                        }
                        scores = scores.reshape(h.kvHeads(), rows, to - from);
                    }
                    NDArray blockMax = scores.max(new int[] {-1}, true);
                    NDArray newMax = max == null ? blockMax : max.maximum(blockMax);
                    NDArray weights = scores.sub(newMax).exp();
                    NDArray newSum = weights.sum(new int[] {-1}, true);
                    NDArray newAcc = weights.matMul(values.read(from, to));
                    if (max != null) {
                        NDArray rescale = max.sub(newMax).exp();
                        newSum = newSum.add(sum.mul(rescale));
                        newAcc = newAcc.add(acc.mul(rescale));
                        max.close();
                        sum.close();
                        acc.close();
                    }
                    max = newMax;
                    sum = newSum;
                    acc = newAcc;
                    NDScope.unregister(max, sum, acc); // carried into the next block; closed by hand
                }
            }
            return ungrouped(acc.div(sum), tokens, h);
        } finally {
            for (NDArray carried : new NDArray[] {max, sum, acc}) {
                if (carried != null) {
                    carried.close();
                }
            }
        }
    }

    /**
     * The additive causal mask over slots {@code [from, to)}: new token t sees slots up to
     * {@code stored − tokens + t}.
     */
    private static NDArray causalMask(NDManager manager, int tokens, int stored, int from, int to) {
        int width = to - from;
        float[] m = new float[tokens * width];
        for (int t = 0; t < tokens; t++) {
            int firstHidden = Math.max(0, stored - tokens + t + 1 - from);
            if (firstHidden < width) {
                Arrays.fill(m, t * width + firstHidden, (t + 1) * width, Float.NEGATIVE_INFINITY);
            }
        }
        return manager.create(m, new Shape(tokens, width));
    }

    /**
     * (tokens, heads, d) → (kvHeads, group·tokens, d), pre-scaled by 1/√d: a query head's group shares
     * its KV head, so one batched matmul per KV head covers the group. Broadcasting K and V over the
     * group instead would make PyTorch copy them group times per layer and step.
     */
    private static NDArray groupedQueries(NDArray q, Heads h) {
        int tokens = (int) q.getShape().get(0);
        long rows = (long) h.group() * tokens;
        return tokens == 1 // one token: the transpose moves only a unit axis, a reshape is the same layout
                ? q.reshape(h.kvHeads(), rows, h.headDim()).mul(h.scale())
                : q.reshape(tokens, h.kvHeads(), h.group(), h.headDim()).transpose(1, 2, 0, 3)
                        .reshape(h.kvHeads(), rows, h.headDim()).mul(h.scale());
    }

    /** (kvHeads, group·tokens, d) → (tokens, heads·d), ready for the output projection. */
    private static NDArray ungrouped(NDArray out, int tokens, Heads h) {
        return tokens == 1 ? out.reshape(1, (long) h.heads() * h.headDim())
                : out.reshape(h.kvHeads(), h.group(), tokens, h.headDim()).transpose(2, 0, 1, 3)
                        .reshape(tokens, (long) h.heads() * h.headDim());
    }
}
