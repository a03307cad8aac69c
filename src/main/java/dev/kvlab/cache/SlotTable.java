package dev.kvlab.cache;

import java.util.Arrays;

/**
 * One layer's per-slot metadata on the host, per KV head: the original position, the merge count
 * {@code n} (see {@link SlotMerges}) and two policy channels, {@code scores} and {@code means}. Each
 * column is an array with spare capacity; all heads share one length. The capacity grows
 * geometrically, so appending a token writes only its own entries (amortized O(1) per token), and a
 * compaction moves entries within the same arrays. Memory: 16 bytes per head per allocated slot, on
 * the Java heap, next to the {@code 2 × headDim} elements per head per slot of the key and value
 * buffers on the device.
 */
final class SlotTable {
    private static final int MIN_CAPACITY = 16;

    private final int heads;
    private int[][] positions;
    private float[][] counts;
    private float[][] scores;
    private float[][] means;
    private int length;
    private int capacity;

    SlotTable(int heads) {
        this.heads = heads;
        positions = new int[heads][0];
        counts = new float[heads][0];
        scores = new float[heads][0];
        means = new float[heads][0];
    }

    int heads() {
        return heads;
    }

    /** Slots stored per head. */
    int length() {
        return length;
    }

    /** Slots allocated per head. */
    int capacity() {
        return capacity;
    }

    /** Makes room for at least {@code slots} per head; only a growth copies the stored entries. */
    void reserve(int slots) {
        if (slots <= capacity) {
            return;
        }
        for (int h = 0; h < heads; h++) {
            positions[h] = Arrays.copyOf(positions[h], slots);
            counts[h] = Arrays.copyOf(counts[h], slots);
            scores[h] = Arrays.copyOf(scores[h], slots);
            means[h] = Arrays.copyOf(means[h], slots);
        }
        capacity = slots;
    }

    /**
     * Stores {@code tokens} new slots on every head, with original positions from
     * {@code firstPosition} on, count 1 and both scores 0. Grows the capacity by doubling when it is
     * short.
     */
    void append(int firstPosition, int tokens) {
        int needed = length + tokens;
        if (needed > capacity) {
            reserve(Math.max(needed, Math.max(MIN_CAPACITY, 2 * capacity)));
        }
        for (int h = 0; h < heads; h++) {
            for (int t = 0; t < tokens; t++) {
                positions[h][length + t] = firstPosition + t;
            }
            Arrays.fill(counts[h], length, needed, 1f);
            Arrays.fill(scores[h], length, needed, 0f);
            Arrays.fill(means[h], length, needed, 0f);
        }
        length = needed;
    }

    /**
     * Keeps, on every head, the slots {@code keep[h]} (ascending, the same number per head) as slots
     * {@code 0, 1, …}, moving every column's entries within its array. Ascending order means slot
     * {@code i} is written only after its old entry has been read.
     */
    void keep(int[][] keep) {
        int newLength = keep[0].length;
        for (int h = 0; h < heads; h++) {
            int[] k = keep[h];
            int previous = -1;
            for (int i = 0; i < newLength; i++) {
                int s = k[i];
                if (s <= previous || s >= length) {
                    throw new IllegalArgumentException("head " + h + " keeps slot " + s + " after slot " + previous
                            + " of " + length + ": slots must be ascending and stored");
                }
                previous = s;
                positions[h][i] = positions[h][s];
                counts[h][i] = counts[h][s];
                scores[h][i] = scores[h][s];
                means[h][i] = means[h][s];
            }
        }
        length = newLength;
    }

    /** Head h's original positions: the backing array, valid below {@link #length()}, replaced by a growth. */
    int[] positions(int head) {
        return positions[head];
    }

    /** Head h's merge counts: the backing array, valid below {@link #length()}, replaced by a growth. */
    float[] counts(int head) {
        return counts[head];
    }

    /** Head h's summed policy scores: the backing array, valid below {@link #length()}, replaced by a growth. */
    float[] scores(int head) {
        return scores[head];
    }

    /** Head h's averaged policy scores: the backing array, valid below {@link #length()}, replaced by a growth. */
    float[] means(int head) {
        return means[head];
    }
}
