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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One layer's attention for every sequence of a forward pass. Each sequence's new keys and values are
 * staged in its own cache, its queries attend over that cache with its own positions and RoPE mode, and
 * its probabilities go to the {@link ForwardPass} for its policy.
 *
 * <p>The leading single-token sequences whose keys keep their positions and whose caches
 * {@linkplain #joinsGroup join a group} (decode rows) are cut into runs of caches of similar length
 * ({@link #stackable}); a run of two or more is handled as a group: one batched RoPE matmul, and one
 * attention over their caches stacked side by side, so each such sequence costs only what touches its
 * own cache (one write and one view per layer). The others (a prompt chunk,
 * {@code rope=cache-index} rows, a sequence decoding alone) go one by one, over views of their caches;
 * one whose policy does not read the probabilities and whose layer holds more than one read block
 * ({@link ReadBlocks#slots}) attends block by block ({@link Attention#attendInBlocks}), so its pass's
 * memory stops growing with the context.
 */
public final class CachedAttention {
    private CachedAttention() {}

    /**
     * How a pass attends and rotates its rows, made once per pass for all layers.
     *
     * @param groups the sizes of the consecutive runs the leading single-token sequences attend in, in
     *     order from the first sequence; a run of 1 attends alone, as every sequence after the runs does
     * @param rotations per run of two or more, (size, d, d), each of its rows' rotation; null entries
     *     for runs of 1 and models without RoPE
     * @param tables per sequence that attends alone, its rotation when its keys keep their original
     *     positions; null entries for the grouped ones, {@code rope=cache-index} and models without RoPE
     */
    public record Plan(int[] groups, NDArray[] rotations, Rope.Table[] tables) {}

    /**
     * Whether a decoding sequence may attend in a group: its keys keep their original positions (one
     * rotation per row), and its cache is unquantized and shorter than a read block
     * ({@link ReadBlocks#READ_BLOCK}), so the copy stacking makes of it stays small. A longer or
     * quantized cache attends alone, over views or blocks of itself, as does {@code rope=cache-index}.
     */
    public static boolean joinsGroup(KvCache cache) {
        return cache.policy().ropeMode() == RopeMode.ORIGINAL && !cache.policy().quantization().enabled()
                && cache.storedTokens() < ReadBlocks.READ_BLOCK;
    }

    /**
     * Cuts the leading single-token sequences that {@linkplain #joinsGroup join groups} (a batch puts
     * them first, longest first) into runs whose caches {@linkplain #stackable stack} together. Their
     * buffers grow first: each for its new token, as staging it would, and to the longest candidate's
     * length where that is at most twice its own (within its fixed size or the slots its request can
     * fill), so that a buffer about to grow anyway does not keep its cache out of the group.
     *
     * @param rope null for models with learned positions (GPT-2)
     */
    public static Plan plan(ForwardPass pass, Rope rope) {
        int candidates = 0;
        while (candidates < pass.size() && pass.input(candidates).tokens().length == 1
                && joinsGroup(pass.input(candidates).cache())) {
            candidates++;
        }
        int layers = pass.input(0).cache().layerCount();
        int[][] lengths = new int[layers][candidates]; // each candidate's slots with its new token, per layer
        for (int l = 0; l < layers; l++) {
            for (int s = 0; s < candidates; s++) {
                lengths[l][s] = pass.input(s).cache().layer(l).slots() + 1;
            }
            int widest = Arrays.stream(lengths[l]).max().orElse(0);
            for (int s = 0; s < candidates; s++) {
                int length = lengths[l][s];
                pass.input(s).cache().layer(l).reserve(widest <= 2 * length ? widest : length);
            }
        }
        List<Integer> groups = new ArrayList<>();
        for (int start = 0, end; start < candidates; start = end) {
            end = start + 1;
            while (end < candidates && stackable(pass, lengths, start, end + 1)) {
                end++;
            }
            groups.add(end - start);
        }
        NDArray[] rotations = new NDArray[groups.size()];
        Rope.Table[] tables = new Rope.Table[pass.size()];
        int first = 0;
        for (int g = 0; g < groups.size(); first += groups.get(g++)) {
            if (rope != null && groups.get(g) > 1) {
                int[] positions = new int[groups.get(g)];
                for (int s = 0; s < positions.length; s++) {
                    positions[s] = (int) pass.input(first + s).cache().seenTokens();
                }
                rotations[g] = rope.rotations(positions);
            } else if (rope != null) {
                tables[first] = rope.table((int) pass.input(first).cache().seenTokens(), 1);
            }
        }
        for (int s = candidates; s < pass.size() && rope != null; s++) {
            KvCache cache = pass.input(s).cache();
            if (cache.policy().ropeMode() == RopeMode.ORIGINAL) {
                tables[s] = rope.table((int) cache.seenTokens(), pass.input(s).tokens().length);
            }
        }
        return new Plan(groups.stream().mapToInt(Integer::intValue).toArray(), rotations, tables);
    }

    /**
     * Whether single-token sequences {@code [from, to)} can attend as one group: in every layer, the
     * widest of their caches with the new token is at most twice each one's length and within each
     * one's buffer (grown for the new token, see {@link #plan}). A member's share of the stacked keys
     * and values is then at most two layers of its own length, what
     * {@link dev.kvlab.cache.MemoryBudget#passBytes} allows its decode step, and no buffer is padded
     * by a copy.
     *
     * @param lengths per layer and sequence, its slots with the new token
     */
    static boolean stackable(ForwardPass pass, int[][] lengths, int from, int to) {
        for (int l = 0; l < lengths.length; l++) {
            int width = Arrays.stream(lengths[l], from, to).max().orElse(0);
            for (int s = from; s < to; s++) {
                if (width > 2 * lengths[l][s] || width > pass.input(s).cache().layer(l).slotCapacity()) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * @param qkv (rows, heads + 2·kvHeads, headDim): projected, unrotated queries, keys and values of
     *     every sequence's new tokens, sequence after sequence
     * @param rope null for models with learned positions (GPT-2)
     * @return (rows, heads·headDim)
     */
    public static NDArray forward(NDArray qkv, Attention.Heads h, int layer, ForwardPass pass, Rope rope, Plan plan) {
        // parts: each run of the plan, then each remaining sequence; a run's rows are its sequences'
        int grouped = Arrays.stream(plan.groups()).sum();
        int parts = plan.groups().length + pass.size() - grouped;
        long[] cuts = new long[parts - 1];
        long row = 0;
        for (int p = 0, s = 0; p < parts - 1; p++) {
            int sequences = p < plan.groups().length ? plan.groups()[p] : 1;
            for (int i = 0; i < sequences; i++) {
                row += pass.input(s++).tokens().length;
            }
            cuts[p] = row;
        }
        NDList rows = parts == 1 ? new NDList(qkv) : qkv.split(cuts, 0);
        NDList outputs = new NDList(parts);
        for (int p = 0, s = 0; p < parts; p++) {
            int size = p < plan.groups().length ? plan.groups()[p] : 1;
            outputs.add(size > 1 ? decodeGroup(rows.get(p), h, layer, pass, s, size, plan.rotations()[p])
                    : forwardOne(rows.get(p), h, layer, pass, s, rope, plan.tables()[s]));
            s += size;
        }
        return parts == 1 ? outputs.get(0) : NDArrays.concat(outputs, 0);
    }

    /**
     * The grouped single-token sequences: (group, heads + 2·kvHeads, d) in, (group, heads·d) out. Each
     * sequence stages its new key and value in its own cache; then views of the caches' key-value
     * buffers, as wide as the longest, are stacked so that scores, softmax and the weighted sum run once
     * for the whole group, with an additive bias that masks the slots past each sequence's own (and adds
     * {@code log n} for merged slots).
     * Per sequence this costs one write and one view per layer, however long its cache.
     */
    private static NDArray decodeGroup(NDArray qkv, Attention.Heads h, int layerIndex, ForwardPass pass, int first,
            int group, NDArray rotations) {
        int kvHeads = h.kvHeads();
        NDList qkAndV = qkv.split(new long[] {h.heads() + kvHeads}, 1);
        NDArray qk = rotations == null ? qkAndV.get(0) : qkAndV.get(0).matMul(rotations);
        NDList qAndK = qk.split(new long[] {h.heads()}, 1); // (group, heads, d), (group, kvHeads, d)
        // each sequence's new key and value, (2, kvHeads, 1, d): one write into its cache
        NDList keyValues = NDArrays.concat(new NDList(qAndK.get(1), qkAndV.get(1)), 1)
                .reshape(group, 2, kvHeads, h.headDim()).transpose(1, 2, 0, 3).split(group, 2);

        LayerCache[] layers = new LayerCache[group];
        int width = 0;
        boolean masked = false;
        for (int s = 0; s < group; s++) {
            layers[s] = pass.input(first + s).cache().layer(layerIndex);
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
            scores = scores.add(pass.groupBias(first, layers, width, qkv.getManager(), scores.getDataType()));
        }
        NDArray probs = scores.softmax(-1);
        int[] slots = new int[group];
        for (int m = 0; m < group; m++) {
            slots[m] = layers[m].slots();
        }
        pass.observeGroup(first, layerIndex, probs, slots);
        return probs.matMul(v).reshape(group, (long) h.heads() * h.headDim());
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
