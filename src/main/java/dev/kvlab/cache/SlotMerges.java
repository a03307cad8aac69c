package dev.kvlab.cache;

import java.util.Arrays;

/**
 * The merge bookkeeping of one layer (DESIGN §4): each slot's count {@code n} of the tokens it stands
 * for, held in the {@link SlotTable}; the proportional-attention bias {@code log n}; how a compaction
 * carries counts and policy scores into the new slots (counts and {@code scores} summed,
 * {@code means} averaged weighted by {@code n}); and the tallies of evicted and merged slots. Keys
 * and values are folded the same way on the device, by the matrix {@link #weights} builds.
 */
final class SlotMerges {
    private final SlotTable slots;
    private boolean anyMerged;
    private long evicted;
    private long merged;
    private float[] countSums = new float[0];
    private float[] scoreSums = new float[0];
    private float[] meanSums = new float[0];

    SlotMerges(SlotTable slots) {
        this.slots = slots;
    }

    /** Whether any stored slot stands for more than one token. */
    boolean any() {
        return anyMerged;
    }

    /** Slots dropped so far, summed over heads. */
    long evicted() {
        return evicted;
    }

    /** Slots folded into another so far, summed over heads. */
    long merged() {
        return merged;
    }

    /** Writes {@code log n} of head h's stored slots into {@code bias[row], bias[row + 1], …}. */
    void fillLogCounts(float[] bias, int row, int head) {
        float[] n = slots.counts(head);
        for (int s = 0; s < slots.length(); s++) {
            bias[row + s] = (float) Math.log(n[s]);
        }
    }

    /**
     * The matrix that folds keys and values for {@code plan}, which must merge; read before
     * {@link #compact} changes the counts.
     *
     * @param stride slots allocated per head in the device buffer (its row stride)
     */
    MergeWeights weights(CompactionPlan plan, int stride) {
        float[][] counts = new float[slots.heads()][];
        for (int h = 0; h < counts.length; h++) {
            counts[h] = slots.counts(h);
        }
        return MergeWeights.of(plan, counts, slots.length(), plan.newStored(), stride);
    }

    /** Applies {@code plan} to the table in place and counts what it dropped and merged. */
    void compact(CompactionPlan plan) {
        int stored = slots.length();
        if (plan.merges()) {
            for (int h = 0; h < slots.heads(); h++) {
                foldIntoRepresentatives(plan, h);
            }
        } else {
            evicted += (long) slots.heads() * (stored - plan.newStored());
        }
        slots.keep(plan.keep());
        anyMerged = false;
        for (int h = 0; h < slots.heads() && !anyMerged; h++) {
            float[] n = slots.counts(h);
            for (int s = 0; s < slots.length(); s++) {
                anyMerged |= n[s] != 1f;
            }
        }
    }

    /**
     * Sums head h's counts and scores over the sources of every new slot, in slot order, and writes
     * the totals (the mean for {@code means}) into the slot that represents it, which
     * {@link SlotTable#keep} then moves into place.
     */
    private void foldIntoRepresentatives(CompactionPlan plan, int head) {
        int stored = slots.length();
        int newStored = plan.newStored();
        if (countSums.length < newStored) {
            countSums = new float[slots.capacity()];
            scoreSums = new float[slots.capacity()];
            meanSums = new float[slots.capacity()];
        }
        Arrays.fill(countSums, 0, newStored, 0f);
        Arrays.fill(scoreSums, 0, newStored, 0f);
        Arrays.fill(meanSums, 0, newStored, 0f);
        int[] keep = plan.keep()[head];
        int[] target = plan.target()[head];
        float[] n = slots.counts(head);
        float[] scores = slots.scores(head);
        float[] means = slots.means(head);
        for (int s = 0; s < stored; s++) {
            int t = target[s];
            if (t < 0) {
                evicted++;
            } else {
                countSums[t] += n[s];
                scoreSums[t] += scores[s];
                meanSums[t] += n[s] * means[s];
                if (keep[t] != s) {
                    merged++;
                }
            }
        }
        for (int t = 0; t < newStored; t++) {
            int r = keep[t];
            n[r] = countSums[t];
            scores[r] = scoreSums[t];
            means[r] = meanSums[t] / countSums[t];
        }
    }
}
