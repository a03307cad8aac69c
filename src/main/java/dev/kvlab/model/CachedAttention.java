package dev.kvlab.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.ReadBlocks;
import dev.kvlab.cache.RopeMode;
import dev.kvlab.model.nn.Attention;
import dev.kvlab.model.nn.Rope;

/**
 * One layer's attention for every sequence of a forward pass. Each sequence's new keys and values are
 * staged in its own cache, its queries attend over that cache with its own positions and RoPE mode, and
 * its probabilities go to the {@link ForwardPass} for its policy.
 *
 * <p>The leading run of two or more single-token sequences whose keys keep their positions and whose
 * caches {@linkplain #joinsGroup join a group} (decode rows) is handled as a group: one batched RoPE
 * matmul, and one attention over their caches stacked side by side, so each such sequence costs only
 * what touches its own cache (one write and one view per layer). The others (a prompt chunk,
 * {@code rope=cache-index} rows, a sequence decoding alone) go one by one, over views of their caches;
 * one whose policy does not read the probabilities and whose layer holds more than one read block
 * ({@link ReadBlocks#slots}) attends block by block ({@link Attention#attendInBlocks}), so its pass's
 * memory stops growing with the context.
 */
public final class CachedAttention {
    private CachedAttention() {}

    /**
     * How a pass rotates its rows, made once per pass for all layers.
     *
     * @param decodeRows the leading sequences handled as a group (one token each)
     * @param rotations (decodeRows, d, d), each grouped row's rotation; null without RoPE or group
     * @param tables per sequence after the group, its rotation when its keys keep their original
     *     positions; null entries for {@code rope=cache-index} and models without RoPE
     */
    public record Plan(int decodeRows, NDArray rotations, Rope.Table[] tables) {}

    /**
     * Whether a decoding sequence may attend in the group: its cache is unquantized and shorter than
     * a read block ({@link ReadBlocks#READ_BLOCK}), so the copy stacking makes of it stays small. A
     * longer or quantized cache attends alone, over views or blocks of itself.
     */
    public static boolean joinsGroup(KvCache cache) {
        return !cache.policy().quantization().enabled() && cache.storedTokens() < ReadBlocks.READ_BLOCK;
    }

    /** @param rope null for models with learned positions (GPT-2) */
    public static Plan plan(ForwardPass pass, Rope rope) {
        int group = 0;
        while (group < pass.size() && pass.input(group).tokens().length == 1 && joinsGroup(pass.input(group).cache())
                && (rope == null || pass.input(group).cache().policy().ropeMode() == RopeMode.ORIGINAL)) {
            group++;
        }
        if (group == 1) { // one sequence attends over its own cache's views; a group would copy it
            group = 0;
        }
        NDArray rotations = null;
        if (rope != null && group > 0) {
            int[] positions = new int[group];
            for (int s = 0; s < group; s++) {
                positions[s] = (int) pass.input(s).cache().seenTokens();
            }
            rotations = rope.rotations(positions);
        }
        Rope.Table[] tables = new Rope.Table[pass.size()];
        for (int s = group; s < pass.size() && rope != null; s++) {
            KvCache cache = pass.input(s).cache();
            if (cache.policy().ropeMode() == RopeMode.ORIGINAL) {
                tables[s] = rope.table((int) cache.seenTokens(), pass.input(s).tokens().length);
            }
        }
        return new Plan(group, rotations, tables);
    }

    /**
     * @param qkv (rows, heads + 2·kvHeads, headDim): projected, unrotated queries, keys and values of
     *     every sequence's new tokens, sequence after sequence
     * @param rope null for models with learned positions (GPT-2)
     * @return (rows, heads·headDim)
     */
    public static NDArray forward(NDArray qkv, Attention.Heads h, int layer, ForwardPass pass, Rope rope, Plan plan) {
        int n = pass.size();
        int group = plan.decodeRows();
        long[] starts = new long[n - 1];
        long row = 0;
        for (int i = 0; i < n - 1; i++) {
            row += pass.input(i).tokens().length;
            starts[i] = row;
        }
        if (group == n) {
            return decodeGroup(qkv, h, layer, pass, plan);
        }
        if (group == 0) {
            NDList parts = n == 1 ? new NDList(qkv) : qkv.split(starts, 0);
            NDList outputs = new NDList(n);
            for (int i = 0; i < n; i++) {
                outputs.add(forwardOne(parts.get(i), h, layer, pass, i, rope, plan.tables()[i]));
            }
            return n == 1 ? outputs.get(0) : NDArrays.concat(outputs, 0);
        }
        // the group's rows first, then one part per remaining sequence
        long[] cuts = new long[n - group];
        System.arraycopy(starts, group - 1, cuts, 0, n - group);
        NDList parts = qkv.split(cuts, 0);
        NDList outputs = new NDList(n - group + 1);
        outputs.add(decodeGroup(parts.get(0), h, layer, pass, plan));
        for (int i = group; i < n; i++) {
            outputs.add(forwardOne(parts.get(i - group + 1), h, layer, pass, i, rope, plan.tables()[i]));
        }
        return NDArrays.concat(outputs, 0);
    }

    /**
     * The grouped single-token sequences: (group, heads + 2·kvHeads, d) in, (group, heads·d) out. Each
     * sequence stages its new key and value in its own cache; then the caches' key-value buffers, cut or
     * padded to the longest, are stacked so that scores, softmax and the weighted sum run once for the whole group,
     * with an additive bias that masks each sequence's padding (and adds {@code log n} for merged slots).
     * Per sequence this costs one write and one view per layer, however long its cache.
     */
    private static NDArray decodeGroup(NDArray qkv, Attention.Heads h, int layerIndex, ForwardPass pass, Plan plan) {
        int group = plan.decodeRows();
        int kvHeads = h.kvHeads();
        NDList qkAndV = qkv.split(new long[] {h.heads() + kvHeads}, 1);
        NDArray qk = plan.rotations() == null ? qkAndV.get(0) : qkAndV.get(0).matMul(plan.rotations());
        NDList qAndK = qk.split(new long[] {h.heads()}, 1); // (group, heads, d), (group, kvHeads, d)
        // each sequence's new key and value, (2, kvHeads, 1, d): one write into its cache
        NDList keyValues = NDArrays.concat(new NDList(qAndK.get(1), qkAndV.get(1)), 1)
                .reshape(group, 2, kvHeads, h.headDim()).transpose(1, 2, 0, 3).split(group, 2);

        LayerCache[] layers = new LayerCache[group];
        int width = 0;
        boolean masked = false;
        for (int s = 0; s < group; s++) {
            layers[s] = pass.input(s).cache().layer(layerIndex);
            layers[s].stageKeyValues(keyValues.get(s));
            masked |= layers[s].hasMergedSlots() || (s > 0 && layers[s].slots() != width);
            width = Math.max(width, layers[s].slots());
        }
        NDList padded = new NDList(group);
        for (LayerCache layer : layers) {
            padded.add(layer.paddedKeyValues(width));
        }
        NDArray kv = NDArrays.stack(padded, 1); // (2, group, kvHeads, width, d)
        NDArray k = kv.get(0);
        NDArray v = kv.get(1);
        NDArray q = qAndK.get(0).mul(h.scale()).reshape(group, kvHeads, h.heads() / kvHeads, h.headDim());
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)); // (group, kvHeads, g, width)
        if (masked) {
            float[] bias = new float[group * kvHeads * width];
            for (int s = 0; s < group; s++) {
                layers[s].fillAttentionBias(bias, s * kvHeads * width, width);
            }
            scores = scores.add(qkv.getManager().create(bias, new Shape(group, kvHeads, 1, width))
                    .toType(scores.getDataType(), false));
        }
        NDArray probs = scores.softmax(-1);
        observe(pass, layerIndex, probs, layers, width);
        return probs.matMul(v).reshape(group, (long) h.heads() * h.headDim());
    }

    /** Hands each observing sequence its own rows of the group's probabilities, without the padding. */
    private static void observe(ForwardPass pass, int layerIndex, NDArray probs, LayerCache[] layers, int width) {
        NDList rows = null;
        for (int s = 0; s < layers.length; s++) {
            if (!pass.input(s).cache().policy().observesAttention()) {
                continue;
            }
            if (rows == null) {
                rows = layers.length == 1 ? new NDList(probs) : probs.split(layers.length, 0);
            }
            NDArray mine = rows.get(s); // (1, kvHeads, g, width)
            int slots = layers[s].slots();
            if (slots < width) {
                mine = mine.split(new long[] {slots}, 3).get(0);
            }
            Shape shape = mine.getShape();
            pass.observe(s, layerIndex, mine.reshape(shape.get(1), shape.get(2), 1, slots));
        }
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
        int slots = layer.slots();
        if (!slotPositions && layer.blockEnd(0, tokens) < slots && !cache.policy().observesAttention()) {
            return Attention.attendInBlocks(q, slots, from -> layer.blockEnd(from, tokens), layer::keys,
                    layer::values, tokens > 1, layer.logCountBias(cache.spec().dtype()), h);
        }
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
