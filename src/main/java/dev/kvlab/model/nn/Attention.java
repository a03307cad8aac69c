package dev.kvlab.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
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

    /** Head layout of one attention layer. */
    public record Heads(int heads, int kvHeads, int headDim) {
        int group() {
            return heads / kvHeads;
        }
    }

    /**
     * @param qkv (tokens, heads + 2·kvHeads, headDim): projected queries, keys and values, unrotated
     * @param rope null for models with learned positions (GPT-2)
     * @return (tokens, heads·headDim), ready for the output projection
     */
    public static NDArray forward(NDArray qkv, Heads h, int layerIndex, KvCache cache, Rope rope) {
        int tokens = (int) qkv.getShape().get(0);
        int first = (int) cache.seenTokens();
        CachePolicy policy = cache.policy();
        boolean slotPositions = rope != null && policy.ropeMode() == RopeMode.CACHE_INDEX;

        NDArray q;
        NDArray k;
        if (rope != null && !slotPositions) {
            NDArray qk = rope.apply(qkv.get(new NDIndex(":, :{}, :", h.heads() + h.kvHeads())), first, tokens);
            q = qk.get(new NDIndex(":, :{}, :", h.heads()));
            k = qk.get(new NDIndex(":, {}:, :", h.heads()));
        } else {
            q = qkv.get(new NDIndex(":, :{}, :", h.heads()));
            k = qkv.get(new NDIndex(":, {}:{}, :", h.heads(), h.heads() + h.kvHeads()));
        }
        NDArray v = qkv.get(new NDIndex(":, {}:, :", h.heads() + h.kvHeads()));

        LayerCache layer = cache.layer(layerIndex);
        layer.append(k.transpose(1, 0, 2), v.transpose(1, 0, 2), first); // (kvHeads, tokens, d)
        cache.recordPeak();
        int stored = layer.stored();
        NDArray keys = layer.keys(); // (kvHeads, stored, d)
        if (slotPositions) {
            keys = rope.applyToSlots(keys, 0, stored);
            q = rope.apply(q, stored - tokens, tokens);
        }

        // (tokens, heads, d) -> (kvHeads, group, tokens, d), pre-scaled by 1/sqrt(d)
        // the scale is a tensor of the request, not mul(float): DJL frees a Number's buffer when the op
        // returns, and autograd (the trainer runs this code) reads it again in the backward pass
        NDArray scale = cache.manager().create((float) (1.0 / Math.sqrt(h.headDim()))).toType(qkv.getDataType(), false);
        q = q.reshape(tokens, h.kvHeads(), h.group(), h.headDim()).transpose(1, 2, 0, 3).mul(scale);
        NDArray scores = q.matMul(keys.expandDims(1).transpose(0, 1, 3, 2)); // (kvHeads, group, tokens, stored)
        if (tokens > 1) {
            scores = scores.add(causalMask(cache, tokens, stored).toType(scores.getDataType(), false));
        }
        NDArray logCount = layer.logCountBias(scores.getDataType());
        if (logCount != null) {
            scores = scores.add(logCount);
        }
        NDArray probs = scores.softmax(-1);
        NDArray out = probs.matMul(layer.values().expandDims(1)); // (kvHeads, group, tokens, d)

        AttentionObservation observation = policy.observesAttention() ? new AttentionObservation(probs) : null;
        policy.afterAttention(layerIndex, layer, observation, first + tokens);
        return out.transpose(2, 0, 1, 3).reshape(tokens, (long) h.heads() * h.headDim());
    }

    /** New token t (the last {@code tokens} slots) sees every older slot and new tokens up to itself. */
    private static NDArray causalMask(KvCache cache, int tokens, int stored) {
        float[] mask = new float[tokens * stored];
        int offset = stored - tokens;
        for (int t = 0; t < tokens; t++) {
            for (int j = offset + t + 1; j < stored; j++) {
                mask[t * stored + j] = Float.NEGATIVE_INFINITY;
            }
        }
        return cache.manager().create(mask, new Shape(tokens, stored));
    }
}
