package dev.kvlab.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import dev.kvlab.cache.policy.CachePolicy;

/**
 * Causal self-attention of the new tokens over one layer's cache, computed explicitly so a policy
 * can see the probabilities: {@code a = softmax(q·Kᵀ/√d + log n)}, where {@code log n} weights a
 * merged slot as the n tokens it stands for (proportional attention). Grouped-query heads are
 * handled by broadcasting, with no per-head loop.
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
     * @param qkv (tokens, heads + 2·kvHeads, headDim): projected queries, keys and values, unrotated
     * @param rope null for models with learned positions (GPT-2)
     * @param positions the new tokens' rotation ({@link Rope#table}, made once per forward pass for all
     *     layers) when keys keep their original positions; null for GPT-2 and {@code rope=cache-index}
     * @return (tokens, heads·headDim), ready for the output projection
     */
    public static NDArray forward(NDArray qkv, Heads h, int layerIndex, KvCache cache, Rope rope, Rope.Table positions) {
        int tokens = (int) qkv.getShape().get(0);
        int first = (int) cache.seenTokens();
        CachePolicy policy = cache.policy();
        boolean slotPositions = rope != null && policy.ropeMode() == RopeMode.CACHE_INDEX;

        // one split per tensor, not an indexed slice per head group: each slice costs several native calls
        NDArray q;
        NDArray k;
        NDArray v;
        if (rope != null && !slotPositions) {
            NDList qkAndV = qkv.split(new long[] {h.heads() + h.kvHeads()}, 1);
            NDList qk = rope.apply(qkAndV.get(0), positions).split(new long[] {h.heads()}, 1);
            q = qk.get(0);
            k = qk.get(1);
            v = qkAndV.get(1);
        } else {
            NDList parts = qkv.split(new long[] {h.heads(), h.heads() + h.kvHeads()}, 1);
            q = parts.get(0);
            k = parts.get(1);
            v = parts.get(2);
        }

        LayerCache layer = cache.layer(layerIndex);
        layer.append(k.transpose(1, 0, 2), v.transpose(1, 0, 2), first); // (kvHeads, tokens, d)
        cache.recordPeak();
        int stored = layer.stored();
        NDArray keys = layer.keys(); // (kvHeads, stored, d)
        if (slotPositions) {
            keys = rope.applyToSlots(keys, 0, stored);
            q = rope.apply(q, stored - tokens, tokens);
        }

        // (tokens, heads, d) -> (kvHeads, group·tokens, d), pre-scaled by 1/sqrt(d): a query head's group
        // shares its KV head, so one batched matmul per KV head covers the group. Broadcasting K and V over
        // the group instead would make PyTorch copy them group times per layer and step.
        long rows = (long) h.group() * tokens;
        q = tokens == 1 // one token: the transpose moves only a unit axis, a reshape is the same layout
                ? q.reshape(h.kvHeads(), rows, h.headDim()).mul(h.scale())
                : q.reshape(tokens, h.kvHeads(), h.group(), h.headDim()).transpose(1, 2, 0, 3)
                        .reshape(h.kvHeads(), rows, h.headDim()).mul(h.scale());
        NDArray scores = q.matMul(keys.transpose(0, 2, 1)) // (kvHeads, group·tokens, stored)
                .reshape(h.kvHeads(), h.group(), tokens, stored);
        if (tokens > 1) {
            scores = scores.add(cache.causalMask(tokens, stored).toType(scores.getDataType(), false));
        }
        NDArray logCount = layer.logCountBias(scores.getDataType());
        if (logCount != null) {
            scores = scores.add(logCount);
        }
        NDArray probs = scores.softmax(-1); // (kvHeads, group, tokens, stored)
        NDArray out = probs.reshape(h.kvHeads(), rows, stored).matMul(layer.values()) // (kvHeads, group·tokens, d)
                .reshape(h.kvHeads(), h.group(), tokens, h.headDim());

        AttentionObservation observation = policy.observesAttention() ? new AttentionObservation(probs) : null;
        policy.afterAttention(layerIndex, layer, observation, first + tokens);
        return tokens == 1 ? out.reshape(1, (long) h.heads() * h.headDim())
                : out.transpose(2, 0, 1, 3).reshape(tokens, (long) h.heads() * h.headDim());
    }
}
