package dev.kvlab.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;

/**
 * The attention probabilities one layer just computed for the newest tokens, as a policy sees them.
 * Probabilities are shaped (kvHeads, group, tokens, stored): with grouped-query attention the
 * policy's per-KV-head figures are means over the query heads of the group. Each summary is
 * computed on the device on first use and copied to Java once.
 */
public final class AttentionObservation {
    private final NDArray probs; // null for a group member, whose summaries its group makes
    private final GroupObservation group; // null unless this is a member of a decode group
    private final int member;
    private final int kvHeads;
    private final int tokens;
    private final int stored;
    private float[][] lastRow;
    private float[][] columnSums;
    private float[] rowEntropy;

    /** @param probs (kvHeads, group, tokens, stored); valid only during the step that made it */
    public AttentionObservation(NDArray probs) {
        this.probs = probs;
        this.group = null;
        this.member = -1;
        this.kvHeads = (int) probs.getShape().get(0);
        this.tokens = (int) probs.getShape().get(2);
        this.stored = (int) probs.getShape().get(3);
    }

    /** A decode group member's one new token over its first {@code stored} slots ({@link GroupObservation}). */
    AttentionObservation(GroupObservation group, int member, int kvHeads, int stored) {
        this.probs = null;
        this.group = group;
        this.member = member;
        this.kvHeads = kvHeads;
        this.tokens = 1;
        this.stored = stored;
    }

    /**
     * The observations of a decode group's members, made together: {@code probs} is (members, kvHeads,
     * group, width) with one new token each, {@code slots[m]} the slots of member m; null entries for
     * members whose policies do not observe.
     */
    public static AttentionObservation[] ofGroup(NDArray probs, int[] slots, boolean[] observing) {
        GroupObservation shared = new GroupObservation(probs);
        AttentionObservation[] members = new AttentionObservation[slots.length];
        for (int m = 0; m < slots.length; m++) {
            members[m] = observing[m] ? shared.member(m, slots[m]) : null;
        }
        return members;
    }

    public int tokens() {
        return tokens;
    }

    public int stored() {
        return stored;
    }

    /** The newest query's attention per KV head (group mean), (kvHeads)(stored): what TOVA ranks by. */
    public float[][] lastRow() {
        if (lastRow == null && group != null) {
            lastRow = group.means(member, stored);
        } else if (lastRow == null) {
            NDArray row = probs.get(new NDIndex(":, :, -1, :")).mean(new int[] {1});
            lastRow = split(row.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray());
        }
        return lastRow;
    }

    /**
     * Attention each slot received, summed over the new tokens' queries and averaged over the group,
     * (kvHeads)(stored): what H2O accumulates step by step.
     */
    public float[][] columnSums() {
        if (columnSums == null && group != null) { // one new token: its row is the sum
            columnSums = group.means(member, stored);
        } else if (columnSums == null) {
            NDArray sums = probs.mean(new int[] {1}).sum(new int[] {1});
            columnSums = split(sums.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray());
        }
        return columnSums;
    }

    /** {@link #columnSums()} left on the device, f32 (kvHeads, stored, 1): what {@link SlotScores} adds there. */
    NDArray columnSumsOnDevice() {
        if (group != null) {
            return group.meansOnDevice(member, stored);
        }
        return probs.mean(new int[] {1}).sum(new int[] {1}).toType(ai.djl.ndarray.types.DataType.FLOAT32, false)
                .reshape(kvHeads, stored, 1);
    }

    /**
     * Attention each slot received from the last {@code rows} new queries, summed over those queries
     * and averaged over the group (or its largest over the group's query heads when
     * {@code maxOverGroup}), (kvHeads)(stored): SnapKV's observation-window votes.
     */
    public float[][] lastRowsSums(int rows, boolean maxOverGroup) {
        if (rows < 1 || rows > tokens) {
            throw new IllegalArgumentException("rows must be in [1, " + tokens + "], got " + rows);
        }
        if (group != null) { // one new token
            return maxOverGroup ? group.maxes(member, stored) : group.means(member, stored);
        }
        NDArray window = rows == tokens ? probs : probs.get(new NDIndex(":, :, {}:, :", tokens - rows));
        NDArray perHead = window.sum(new int[] {2}); // (kvHeads, group, stored)
        NDArray sums = maxOverGroup ? perHead.max(new int[] {1}) : perHead.mean(new int[] {1});
        return split(sums.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray());
    }

    /**
     * Normalized Shannon entropy of each new token's own attention row, {@code −Σ a log a / log
     * #visibleKeys}, averaged over all query heads: one value per new token, in [0, 1]. On a GPU it
     * is summed on the device (a group's members at once), so one value per token crosses to the host.
     */
    public float[] rowEntropy() {
        if (rowEntropy == null) {
            boolean onDevice = group != null ? group.gpuWay() || group.memberSize(stored) > HOST_ENTROPY_LIMIT
                    : DevicePaths.gpuWay(probs.getDevice()) || probs.size() > HOST_ENTROPY_LIMIT;
            double[] h;
            if (group != null) {
                h = new double[] {onDevice ? group.deviceEntropy(member) : group.entropy(member, stored)};
            } else {
                h = onDevice ? deviceEntropy() : hostEntropy();
            }
            rowEntropy = new float[tokens];
            for (int t = 0; t < tokens; t++) {
                int visible = stored - tokens + t + 1; // causal: the t-th new query sees this many keys
                rowEntropy[t] = visible > 1 ? (float) (h[t] / Math.log(visible)) : 0f;
            }
        }
        return rowEntropy;
    }

    /**
     * Up to this many probabilities (a decode step: heads × stored), the entropy is summed in Java
     * from one copy of the probabilities: seven device ops per layer cost more than the arithmetic.
     */
    static final long HOST_ENTROPY_LIMIT = 1 << 16;

    /** Per new token, {@code −Σ a log a} averaged over all query heads, on the host. */
    double[] hostEntropy() {
        float[] p = probs.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        int rows = p.length / stored; // (kvHeads · group · tokens) rows, token index fastest after stored
        double[] h = new double[tokens];
        for (int row = 0; row < rows; row++) {
            double sum = 0;
            for (int i = row * stored, end = i + stored; i < end; i++) {
                float a = p[i];
                if (a > 0f) {
                    sum -= a * Math.log(a);
                }
            }
            h[row % tokens] += sum;
        }
        int heads = rows / tokens;
        for (int t = 0; t < tokens; t++) {
            h[t] /= heads;
        }
        return h;
    }

    double[] deviceEntropy() {
        NDArray p = probs.toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
        NDArray plogp = p.mul(p.clip(1e-30f, 1f).log()).neg();
        // (tokens); one axis per mean, as DJL's PyTorch engine allows; groups are equal, so this is the mean over all heads
        float[] f = plogp.sum(new int[] {3}).mean(new int[] {1}).mean(new int[] {0}).toFloatArray();
        double[] h = new double[tokens];
        for (int t = 0; t < tokens; t++) {
            h[t] = f[t];
        }
        return h;
    }

    private float[][] split(float[] flat) {
        float[][] out = new float[kvHeads][];
        for (int h = 0; h < kvHeads; h++) {
            out[h] = java.util.Arrays.copyOfRange(flat, h * stored, (h + 1) * stored);
        }
        return out;
    }
}
