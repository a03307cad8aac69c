package dev.kvlab.cache;

/**
 * How a compaction folds slots together, as one matrix product: every new slot that absorbed more
 * than one old slot becomes {@code Σ (n_s / Σn) · x_s} over its sources. Rows index the cache buffer
 * seen as (kvHeads·slots, headDim). Computed on the host from the plan and the merge counts.
 *
 * @param targetRows per merged new slot, its row in the compacted (kvHeads·newStored) layout
 * @param sourceRows per source, its row in the old (kvHeads·capacity) layout
 * @param weights (targets × sources), row-major: each target's sources' count shares
 */
record MergeWeights(long[] targetRows, long[] sourceRows, float[] weights) {

    int targets() {
        return targetRows.length;
    }

    int sources() {
        return sourceRows.length;
    }

    /**
     * @param counts per head and old slot, the tokens it stands for
     * @param stored old slots per head
     * @param capacity old slots allocated per head (the stride of the old layout)
     */
    static MergeWeights of(CompactionPlan plan, float[][] counts, int stored, int newStored, int capacity) {
        int heads = counts.length;
        int[][] sourceCount = new int[heads][newStored];
        float[][] total = new float[heads][newStored];
        for (int h = 0; h < heads; h++) {
            for (int s = 0; s < stored; s++) {
                int t = plan.target()[h][s];
                if (t >= 0) {
                    sourceCount[h][t]++;
                    total[h][t] += counts[h][s];
                }
            }
        }
        int[][] mergedRow = new int[heads][newStored];
        int merged = 0;
        int sources = 0;
        for (int h = 0; h < heads; h++) {
            for (int t = 0; t < newStored; t++) {
                mergedRow[h][t] = sourceCount[h][t] > 1 ? merged++ : -1;
                sources += sourceCount[h][t] > 1 ? sourceCount[h][t] : 0;
            }
        }
        long[] targetRows = new long[merged];
        long[] sourceRows = new long[sources];
        float[] weights = new float[merged * sources];
        int j = 0;
        for (int h = 0; h < heads; h++) {
            for (int s = 0; s < stored; s++) {
                int t = plan.target()[h][s];
                if (t >= 0 && mergedRow[h][t] >= 0) {
                    int m = mergedRow[h][t];
                    targetRows[m] = (long) h * newStored + t;
                    sourceRows[j] = (long) h * capacity + s;
                    weights[m * sources + j] = counts[h][s] / total[h][t];
                    j++;
                }
            }
        }
        return new MergeWeights(targetRows, sourceRows, weights);
    }
}
