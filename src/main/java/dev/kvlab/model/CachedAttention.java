package dev.kvlab.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import dev.kvlab.model.nn.Attention;
import dev.kvlab.model.nn.Rope;

/**
 * One layer's attention for every sequence of a forward pass. The pass's projected rows are split by
 * sequence; each sequence's new keys and values are staged in its own cache, its queries attend over
 * that cache with its own positions and RoPE mode, and its probabilities go to the {@link ForwardPass}
 * for its policy. The outputs are joined again for the shared output projection.
 */
public final class CachedAttention {
    private CachedAttention() {}

    /**
     * @param qkv (rows, heads + 2·kvHeads, headDim): projected, unrotated queries, keys and values of
     *     every sequence's new tokens, sequence after sequence
     * @param rope null for models with learned positions (GPT-2)
     * @param tables per sequence, its new tokens' rotation when its keys keep their original positions
     *     (made once per pass for all layers); null entries for {@code rope=cache-index}
     * @return (rows, heads·headDim)
     */
    public static NDArray forward(NDArray qkv, Attention.Heads h, int layer, ForwardPass pass, Rope rope,
            Rope.Table[] tables) {
        int n = pass.size();
        if (n == 1) {
            return forwardOne(qkv, h, layer, pass, 0, rope, tables == null ? null : tables[0]);
        }
        long[] starts = new long[n - 1];
        long row = 0;
        for (int i = 0; i < n - 1; i++) {
            row += pass.input(i).tokens().length;
            starts[i] = row;
        }
        NDList parts = qkv.split(starts, 0);
        NDList outputs = new NDList(n);
        for (int i = 0; i < n; i++) {
            outputs.add(forwardOne(parts.get(i), h, layer, pass, i, rope, tables == null ? null : tables[i]));
        }
        return NDArrays.concat(outputs, 0);
    }

    private static NDArray forwardOne(NDArray qkv, Attention.Heads h, int layerIndex, ForwardPass pass, int sequence,
            Rope rope, Rope.Table positions) {
        KvCache cache = pass.input(sequence).cache();
        int tokens = (int) qkv.getShape().get(0);
        boolean slotPositions = rope != null && cache.policy().ropeMode() == RopeMode.CACHE_INDEX;

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
        layer.stage(k.transpose(1, 0, 2), v.transpose(1, 0, 2)); // (kvHeads, tokens, d)
        NDArray keys = layer.keys(); // (kvHeads, stored + tokens, d)
        int stored = (int) keys.getShape().get(1);
        if (slotPositions) {
            keys = rope.applyToSlots(keys, 0, stored);
            q = rope.apply(q, stored - tokens, tokens);
        }
        NDArray mask = tokens > 1 ? cache.causalMask(tokens, stored) : null;
        Attention.Result result = Attention.attend(q, keys, layer.values(), mask,
                layer.logCountBias(keys.getDataType()), h);
        pass.observe(sequence, layerIndex, result.probs());
        return result.output();
    }
}
