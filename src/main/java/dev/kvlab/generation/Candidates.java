package dev.kvlab.generation;

import java.util.Arrays;
import java.util.function.IntPredicate;

/**
 * The token ids still eligible at one sampling step, over the full-vocabulary logits they are
 * ranked by. {@code rankOrdered} means {@code ids} is in descending logit order (ties: lower id first).
 */
record Candidates(float[] logits, int[] ids, boolean rankOrdered) {

    static Candidates all(float[] logits) {
        int[] ids = new int[logits.length];
        Arrays.setAll(ids, i -> i);
        return new Candidates(logits, ids, false);
    }

    int size() {
        return ids.length;
    }

    float logit(int i) {
        return logits[ids[i]];
    }

    /** The same candidates in rank order. */
    Candidates ranked() {
        if (rankOrdered) {
            return this;
        }
        long[] keys = new long[ids.length];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = rankKey(i);
        }
        Arrays.sort(keys);
        return fromKeys(keys);
    }

    /** The candidates at the positions {@code keep} accepts, in their present order. */
    Candidates keep(IntPredicate keep) {
        int[] kept = new int[ids.length];
        int n = 0;
        for (int i = 0; i < ids.length; i++) {
            if (keep.test(i)) {
                kept[n++] = ids[i];
            }
        }
        return new Candidates(logits, Arrays.copyOf(kept, n), rankOrdered);
    }

    /** The first {@code n} candidates in rank order. */
    Candidates best(int n) {
        if (n >= ids.length) {
            return ranked();
        }
        if (rankOrdered) {
            return new Candidates(logits, Arrays.copyOf(ids, n), true);
        }
        return fromKeys(smallestKeys(n));
    }

    /**
     * A sort key that orders by descending logit, then ascending id, as one primitive long:
     * sorting longs avoids boxing 128k Integers every step.
     */
    long rankKey(int i) {
        return rankKey(logit(i), ids[i]);
    }

    static long rankKey(float logit, int id) {
        int bits = Float.floatToIntBits(logit + 0.0f); // + 0.0f folds -0.0 into 0.0
        int ascending = bits ^ ((bits >> 31) & 0x7fffffff); // signed-int order == float order
        return ((long) ~ascending << 32) | id;
    }

    /** The logit a {@link #rankKey} encodes (the bit transform is its own inverse). */
    static float logitOf(long rankKey) {
        int ascending = ~(int) (rankKey >>> 32);
        return Float.intBitsToFloat(ascending ^ ((ascending >> 31) & 0x7fffffff));
    }

    private Candidates fromKeys(long[] sortedKeys) {
        int[] rankedIds = new int[sortedKeys.length];
        for (int i = 0; i < rankedIds.length; i++) {
            rankedIds[i] = (int) sortedKeys[i];
        }
        return new Candidates(logits, rankedIds, true);
    }

    /** The n smallest rank keys, sorted, via a bounded max-heap: O(size · log n), no full sort. */
    private long[] smallestKeys(int n) {
        long[] heap = new long[n];
        for (int i = 0; i < n; i++) {
            heap[i] = rankKey(i);
        }
        for (int i = n / 2 - 1; i >= 0; i--) {
            siftDown(heap, i);
        }
        for (int i = n; i < ids.length; i++) {
            long key = rankKey(i);
            if (key < heap[0]) {
                heap[0] = key;
                siftDown(heap, 0);
            }
        }
        Arrays.sort(heap);
        return heap;
    }

    private static void siftDown(long[] heap, int i) {
        long x = heap[i];
        while (true) {
            int child = 2 * i + 1;
            if (child >= heap.length) {
                break;
            }
            if (child + 1 < heap.length && heap[child + 1] > heap[child]) {
                child++;
            }
            if (heap[child] <= x) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = x;
    }
}
