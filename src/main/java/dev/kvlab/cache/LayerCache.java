package dev.kvlab.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * One layer's keys and values, shaped (kvHeads, stored, headDim), plus per head and slot the
 * original position, the merge count {@code n} and two policy channels: {@code scores}, summed when
 * slots merge (accumulated attention), and {@code meanScores}, averaged weighted by {@code n} when
 * they merge (a per-token property such as attention entropy). The tensors live in a
 * preallocated buffer that grows geometrically, so appending a token never copies the whole cache.
 * Slot metadata lives in Java arrays: policies decide in Java and only the final gather or merge
 * touches the device.
 */
public final class LayerCache {
    private final KvSpec spec;
    private final NDManager manager;
    private final int capacityHint;

    private NDArray keyBuffer;
    private NDArray valueBuffer;
    private int capacity;
    private int stored;

    private int[][] positions;
    private float[][] counts;
    private float[][] scores;
    private float[][] meanScores;
    private boolean anyMerged;

    private long evictedSlots;
    private long mergedSlots;

    /**
     * @param capacityHint slots to allocate at the first append (a bounded policy passes budget +
     *     prefill chunk so its buffer never grows); 0 to start from the first chunk's size
     */
    LayerCache(KvSpec spec, NDManager manager, int capacityHint) {
        this.spec = spec;
        this.manager = manager;
        this.capacityHint = capacityHint;
        int heads = spec.kvHeads();
        positions = new int[heads][0];
        counts = new float[heads][0];
        scores = new float[heads][0];
        meanScores = new float[heads][0];
    }

    /**
     * Appends the keys and values of {@code tokens} new tokens.
     *
     * @param keys (kvHeads, tokens, headDim), in the cache dtype
     * @param firstPosition the original position of the first new token
     */
    public void append(NDArray keys, NDArray values, int firstPosition) {
        int tokens = (int) keys.getShape().get(1);
        ensureCapacity(stored + tokens);
        NDIndex slots = new NDIndex(":, {}:{}, :", stored, stored + tokens);
        keyBuffer.set(slots, keys.toType(spec.dtype(), false));
        valueBuffer.set(slots, values.toType(spec.dtype(), false));
        for (int h = 0; h < spec.kvHeads(); h++) {
            positions[h] = Arrays.copyOf(positions[h], stored + tokens);
            counts[h] = Arrays.copyOf(counts[h], stored + tokens);
            scores[h] = Arrays.copyOf(scores[h], stored + tokens);
            meanScores[h] = Arrays.copyOf(meanScores[h], stored + tokens);
            for (int t = 0; t < tokens; t++) {
                positions[h][stored + t] = firstPosition + t;
                counts[h][stored + t] = 1f;
            }
        }
        stored += tokens;
    }

    private void ensureCapacity(int needed) {
        if (needed <= capacity) {
            return;
        }
        int newCapacity = Math.max(needed, capacity == 0 ? Math.max(capacityHint, 16) : capacity * 2);
        Shape shape = new Shape(spec.kvHeads(), newCapacity, spec.headDim());
        NDArray newKeys = manager.zeros(shape, spec.dtype());
        NDArray newValues = manager.zeros(shape, spec.dtype());
        NDScope.unregister(newKeys, newValues); // outlives the step scope that triggered the growth
        if (stored > 0) {
            newKeys.set(new NDIndex(":, :{}, :", stored), keys());
            newValues.set(new NDIndex(":, :{}, :", stored), values());
        }
        close();
        keyBuffer = newKeys;
        valueBuffer = newValues;
        capacity = newCapacity;
    }

    /** A view of the stored keys, (kvHeads, stored, headDim). */
    public NDArray keys() {
        return keyBuffer.get(new NDIndex(":, :{}, :", stored));
    }

    /** A view of the stored values, (kvHeads, stored, headDim). */
    public NDArray values() {
        return valueBuffer.get(new NDIndex(":, :{}, :", stored));
    }

    /**
     * The proportional-attention bias {@code log n}, shaped (kvHeads, 1, 1, stored) to broadcast over
     * query heads and rows, or null while no slot is merged (then the bias is all zeros).
     */
    public NDArray logCountBias(DataType dtype) {
        if (!anyMerged) {
            return null;
        }
        float[] flat = new float[spec.kvHeads() * stored];
        for (int h = 0; h < spec.kvHeads(); h++) {
            for (int s = 0; s < stored; s++) {
                flat[h * stored + s] = (float) Math.log(counts[h][s]);
            }
        }
        return manager.create(flat, new Shape(spec.kvHeads(), 1, 1, stored)).toType(dtype, false);
    }

    /**
     * Applies a policy's decision: drops slots, or folds them into others as count-weighted means. Both
     * are gathers along the slot axis with a (kvHeads, newStored) index broadcast over the head dim;
     * a merge first scales each slot by {@code n / Σn} of its target, then adds one gather per round
     * of sources (round r holds each target's r-th folded slot), so its cost stays linear in the slots.
     */
    public void compact(CompactionPlan plan) {
        int newStored = plan.newStored();
        NDArray keys = keys();
        NDArray values = values();
        int[][][] rounds;
        if (plan.merges()) {
            NDArray w = manager.create(slotWeights(plan, newStored), new Shape(spec.kvHeads(), stored, 1))
                    .toType(spec.dtype(), false);
            keys = keys.mul(w);
            values = values.mul(w);
            rounds = sourceRounds(plan, newStored);
            if (rounds.length > 1) { // slot `stored` is a zero row for targets with fewer sources
                NDArray zero = manager.zeros(new Shape(spec.kvHeads(), 1, spec.headDim()), spec.dtype());
                keys = keys.concat(zero, 1);
                values = values.concat(zero, 1);
            }
        } else {
            rounds = new int[][][] {plan.keep()};
        }
        NDArray newKeys = null;
        NDArray newValues = null;
        for (int[][] sources : rounds) {
            NDArray idx = slotIndex(sources, newStored);
            newKeys = newKeys == null ? keys.gather(idx, 1) : newKeys.add(keys.gather(idx, 1));
            newValues = newValues == null ? values.gather(idx, 1) : newValues.add(values.gather(idx, 1));
        }
        NDIndex slots = new NDIndex(":, :{}, :", newStored);
        keyBuffer.set(slots, newKeys);
        valueBuffer.set(slots, newValues);
        updateMetadata(plan, newStored);
    }

    /** (kvHeads, newStored, headDim) gather index, built as (kvHeads, newStored, 1) and broadcast. */
    private NDArray slotIndex(int[][] sources, int newStored) {
        int heads = spec.kvHeads();
        long[] index = new long[heads * newStored];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < newStored; i++) {
                index[h * newStored + i] = sources[h][i];
            }
        }
        return manager.create(index, new Shape(heads, newStored, 1)).broadcast(new Shape(heads, newStored, spec.headDim()));
    }

    /** Per head and old slot, {@code n / Σn} over the slots folded into the same target (0 if dropped). */
    private float[] slotWeights(CompactionPlan plan, int newStored) {
        int heads = spec.kvHeads();
        float[] weights = new float[heads * stored];
        for (int h = 0; h < heads; h++) {
            float[] total = new float[newStored];
            for (int s = 0; s < stored; s++) {
                int t = plan.target()[h][s];
                if (t >= 0) {
                    total[t] += counts[h][s];
                }
            }
            for (int s = 0; s < stored; s++) {
                int t = plan.target()[h][s];
                if (t >= 0) {
                    weights[h * stored + s] = counts[h][s] / total[t];
                }
            }
        }
        return weights;
    }

    /**
     * Round 0: each target's representative ({@code keep}); round r: each target's r-th other source,
     * or {@code stored} (the zero row) where it has fewer.
     */
    private int[][][] sourceRounds(CompactionPlan plan, int newStored) {
        int heads = spec.kvHeads();
        int[][] extra = new int[heads][newStored];
        int rounds = 1;
        for (int h = 0; h < heads; h++) {
            for (int s = 0; s < stored; s++) {
                int t = plan.target()[h][s];
                if (t >= 0 && plan.keep()[h][t] != s) {
                    rounds = Math.max(rounds, 1 + ++extra[h][t]);
                }
            }
        }
        int[][][] sources = new int[rounds][][];
        sources[0] = plan.keep();
        for (int r = 1; r < rounds; r++) {
            sources[r] = new int[heads][newStored];
            for (int[] row : sources[r]) {
                Arrays.fill(row, stored);
            }
        }
        for (int h = 0; h < heads; h++) {
            int[] filled = new int[newStored];
            for (int s = 0; s < stored; s++) {
                int t = plan.target()[h][s];
                if (t >= 0 && plan.keep()[h][t] != s) {
                    sources[1 + filled[t]++][h][t] = s;
                }
            }
        }
        return sources;
    }

    private void updateMetadata(CompactionPlan plan, int newStored) {
        int heads = spec.kvHeads();
        for (int h = 0; h < heads; h++) {
            int[] newPositions = new int[newStored];
            float[] newCounts = new float[newStored];
            float[] newScores = new float[newStored];
            float[] newMeans = new float[newStored];
            for (int i = 0; i < newStored; i++) {
                int old = plan.keep()[h][i];
                newPositions[i] = positions[h][old];
                if (!plan.merges()) {
                    newCounts[i] = counts[h][old];
                    newScores[i] = scores[h][old];
                    newMeans[i] = meanScores[h][old];
                }
            }
            if (plan.merges()) {
                for (int s = 0; s < stored; s++) {
                    int t = plan.target()[h][s];
                    if (t < 0) {
                        evictedSlots++;
                    } else {
                        newCounts[t] += counts[h][s];
                        newScores[t] += scores[h][s];
                        newMeans[t] += counts[h][s] * meanScores[h][s];
                        if (plan.keep()[h][t] != s) {
                            mergedSlots++;
                        }
                    }
                }
                for (int i = 0; i < newStored; i++) {
                    newMeans[i] /= newCounts[i];
                }
            } else {
                evictedSlots += stored - newStored;
            }
            positions[h] = newPositions;
            counts[h] = newCounts;
            scores[h] = newScores;
            meanScores[h] = newMeans;
        }
        stored = newStored;
        anyMerged = false;
        for (float[] c : counts) {
            for (float n : c) {
                anyMerged |= n != 1f;
            }
        }
    }

    public int stored() {
        return stored;
    }

    /** Bytes the stored slots occupy (the allocated buffer may be larger, see {@link #allocatedBytes()}). */
    public long bytes() {
        return spec.layerBytes(stored);
    }

    public long allocatedBytes() {
        return spec.layerBytes(capacity);
    }

    /** Original token position of each slot, per head. Read-only view: do not modify. */
    public int[] positions(int head) {
        return positions[head];
    }

    /** How many tokens each slot stands for (1 unless merged), per head. Read-only view. */
    public float[] counts(int head) {
        return counts[head];
    }

    /** The policy's per-slot score (e.g. accumulated attention); moves with compaction, summed on merge. */
    public float[] scores(int head) {
        return scores[head];
    }

    /**
     * A second per-slot policy value (0 for new slots) that moves with compaction and becomes the
     * count-weighted mean on merge, e.g. the attention entropy each token had as the query. Writable.
     */
    public float[] meanScores(int head) {
        return meanScores[head];
    }

    public int kvHeads() {
        return spec.kvHeads();
    }

    long evictedSlots() {
        return evictedSlots;
    }

    long mergedSlots() {
        return mergedSlots;
    }

    /** Frees the device buffers; the cache is unusable afterwards. */
    void close() {
        if (keyBuffer != null) {
            keyBuffer.close();
            valueBuffer.close();
        }
    }
}
