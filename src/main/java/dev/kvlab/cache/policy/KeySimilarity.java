package dev.kvlab.cache.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.cache.DevicePaths;
import dev.kvlab.cache.LayerCache;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Key cosine similarities of one layer, rows computed when asked for, in one of three ways
 * ({@link Mode}) chosen by the device and by how many rows a compaction is likely to need. All give
 * {@code k_a·k_b / (max(|k_a|, 1e-12)·max(|k_b|, 1e-12))}. Valid only during the compaction that
 * made it.
 */
final class KeySimilarity {
    /** Up to this many likely candidates per head, a CPU computes rows on the host. */
    static final int HOST_CANDIDATES = 8;

    /** Where rows are computed. */
    enum Mode {
        /**
         * The keys are copied to the host once and rows are dot products in Java: on a CPU when few rows
         * are likely (a decode step removes one slot per head), one native call instead of the dozen a
         * device computation takes, which at decode cost more than the arithmetic.
         */
        HOST,
        /**
         * The likely candidates' rows come from one batched matmul of unit keys on the device,
         * (kvHeads, candidates, d) × (kvHeads, d, stored); any other row is computed on the host: on a
         * CPU when many rows are likely (a prefill chunk removes hundreds).
         */
        DEVICE_THEN_HOST,
        /**
         * Every row is computed on the device and only rows are copied, never the keys: on a GPU, where
         * a layer's keys (kvHeads × stored × headDim) would cross to the host at every compaction.
         */
        DEVICE;

        static Mode of(NDArray keys, int[][] candidates) {
            if (DevicePaths.gpuWay(keys.getDevice())) {
                return DEVICE;
            }
            return candidates.length == 0 || candidates[0].length <= HOST_CANDIDATES ? HOST : DEVICE_THEN_HOST;
        }
    }

    private final int stored;
    private final int headDim;
    private final Map<Long, float[]> rows = new HashMap<>();
    private final NDArray keys; // (kvHeads, stored, d), f32
    private final Mode mode;
    private final NDArray unitKeys; // device modes: keys / |keys|
    private float[] hostKeys; // (kvHeads, stored, d) flattened: up front on the host path, else at the first miss
    private float[] inverseNorms; // per head and slot, with hostKeys

    /** @param candidates per head, the slots whose rows are likely needed (same count per head) */
    KeySimilarity(LayerCache cache, int[][] candidates) {
        this(cache, candidates, null);
    }

    /** @param mode where rows are computed, or null for {@link Mode#of} */
    KeySimilarity(LayerCache cache, int[][] candidates, Mode mode) {
        this.stored = cache.stored();
        this.keys = cache.keys().toType(DataType.FLOAT32, false);
        this.headDim = (int) keys.getShape().get(2);
        this.mode = mode != null ? mode : Mode.of(keys, candidates);
        if (this.mode == Mode.HOST) {
            this.unitKeys = null;
            copyToHost();
            return;
        }
        this.unitKeys = keys.div(keys.square().sum(new int[] {2}, true).sqrt().maximum(1e-12f));
        int heads = candidates.length;
        int count = candidates[0].length;
        if (count == 0) {
            return;
        }
        long[] index = new long[heads * count];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < count; i++) {
                index[h * count + i] = candidates[h][i];
            }
        }
        NDArray idx = unitKeys.getManager().create(index, new Shape(heads, count, 1)).broadcast(new Shape(heads, count, headDim));
        NDArray picked = unitKeys.gather(idx, 1); // (kvHeads, count, d)
        float[] flat = picked.matMul(unitKeys.transpose(0, 2, 1)).toFloatArray(); // (kvHeads, count, stored)
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < count; i++) {
                int from = (h * count + i) * stored;
                rows.put(key(h, candidates[h][i]), Arrays.copyOfRange(flat, from, from + stored));
            }
        }
    }

    private void copyToHost() {
        hostKeys = keys.toFloatArray();
        inverseNorms = new float[hostKeys.length / headDim];
        for (int row = 0; row < inverseNorms.length; row++) {
            float sum = 0;
            for (int i = row * headDim, end = i + headDim; i < end; i++) {
                sum += hostKeys[i] * hostKeys[i];
            }
            inverseNorms[row] = (float) (1.0 / Math.max(Math.sqrt(sum), 1e-12));
        }
    }

    /**
     * Cosine similarity of slot {@code slot}'s key to every key of head {@code head}. A row that was
     * not fetched up front (merges change which slot goes next) is computed on the device in
     * {@link Mode#DEVICE}, else on the host: one copy of the keys at the first such row, then no
     * native call per row.
     */
    float[] row(int head, int slot) {
        return rows.computeIfAbsent(key(head, slot), k -> {
            if (mode == Mode.DEVICE) {
                NDArray headKeys = unitKeys.get(head); // (stored, d)
                return headKeys.matMul(headKeys.get(slot).expandDims(1)).toFloatArray();
            }
            if (hostKeys == null) {
                copyToHost();
            }
            return hostRow(head, slot);
        });
    }

    /** Whether the layer's keys were copied to the host (never in {@link Mode#DEVICE}). */
    boolean copiedKeys() {
        return hostKeys != null;
    }

    private float[] hostRow(int head, int slot) {
        float[] out = new float[stored];
        int base = head * stored;
        int a = (base + slot) * headDim;
        for (int s = 0; s < stored; s++) {
            int b = (base + s) * headDim;
            float dot = 0;
            for (int i = 0; i < headDim; i++) {
                dot += hostKeys[a + i] * hostKeys[b + i];
            }
            out[s] = dot * inverseNorms[base + slot] * inverseNorms[base + s];
        }
        return out;
    }

    private static long key(int head, int slot) {
        return ((long) head << 32) | slot;
    }
}
