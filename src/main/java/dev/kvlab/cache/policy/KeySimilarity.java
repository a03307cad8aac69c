package dev.kvlab.cache.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.cache.LayerCache;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Key cosine similarities of one layer, computed on the device: the rows of the likely merge
 * candidates in one batched matmul of unit keys, (kvHeads, candidates, d) × (kvHeads, d, stored),
 * and any other row on demand. Valid only during the compaction that made it.
 */
final class KeySimilarity {
    private final NDArray unitKeys; // (kvHeads, stored, d), f32
    private final int stored;
    private final Map<Long, float[]> rows = new HashMap<>();

    /** @param candidates per head, the slots whose rows are fetched up front (same count per head) */
    KeySimilarity(LayerCache cache, int[][] candidates) {
        NDArray keys = cache.keys().toType(DataType.FLOAT32, false);
        this.unitKeys = keys.div(keys.square().sum(new int[] {2}, true).sqrt().maximum(1e-12f));
        this.stored = cache.stored();
        int heads = candidates.length;
        int count = candidates[0].length;
        if (count == 0) {
            return;
        }
        long d = unitKeys.getShape().get(2);
        long[] index = new long[heads * count];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < count; i++) {
                index[h * count + i] = candidates[h][i];
            }
        }
        NDArray idx = unitKeys.getManager().create(index, new Shape(heads, count, 1)).broadcast(new Shape(heads, count, d));
        NDArray picked = unitKeys.gather(idx, 1); // (kvHeads, count, d)
        float[] flat = picked.matMul(unitKeys.transpose(0, 2, 1)).toFloatArray(); // (kvHeads, count, stored)
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < count; i++) {
                int from = (h * count + i) * stored;
                rows.put(key(h, candidates[h][i]), Arrays.copyOfRange(flat, from, from + stored));
            }
        }
    }

    /** Cosine similarity of slot {@code slot}'s key to every key of head {@code head}. */
    float[] row(int head, int slot) {
        return rows.computeIfAbsent(key(head, slot), k -> unitKeys.get(new NDIndex("{}, {}:{}, :", head, slot, slot + 1))
                .matMul(unitKeys.get(new NDIndex("{}", head)).transpose())
                .toFloatArray());
    }

    private static long key(int head, int slot) {
        return ((long) head << 32) | slot;
    }
}
