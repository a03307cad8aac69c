package dev.kvlab.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * The attention probabilities of a batch's decode group in one layer, (members, kvHeads, group,
 * width): one new token per member, whose first slots are its own and the rest padding (probability
 * 0). A summary any member's policy asks for is computed for every member at once and copied to Java
 * in one piece, so a step of B observing sequences makes one reduction and one copy per layer, not B.
 * The arithmetic is {@link AttentionObservation}'s for one sequence, so a sequence's policy sees the
 * same figures in a group as alone.
 */
final class GroupObservation {
    private final NDArray probs;
    private final int kvHeads;
    private final int group;
    private final int width;
    private NDArray meanArray; // (members, kvHeads, width) f32, on the device
    private NDArray deviceMeans; // the same shaped (members, kvHeads, width, 1)
    private float[] means; // the same on the host
    private float[] maxes; // the same with the largest instead of the mean
    private float[] all; // the probabilities, for entropies summed on the host
    private float[] entropies; // per member, summed on the device

    /** @param probs (members, kvHeads, group, width); valid only during the step that made it */
    GroupObservation(NDArray probs) {
        this.probs = probs;
        this.kvHeads = (int) probs.getShape().get(1);
        this.group = (int) probs.getShape().get(2);
        this.width = (int) probs.getShape().get(3);
    }

    /** One member's observation over its first {@code slots} slots. */
    AttentionObservation member(int member, int slots) {
        return new AttentionObservation(this, member, kvHeads, slots);
    }

    /** How many probabilities a member's own are (what {@link AttentionObservation} sums on the host up to a limit). */
    long memberSize(int slots) {
        return (long) kvHeads * group * slots;
    }

    /** Per KV head, the mean over its query heads of a member's attention to each of its slots. */
    float[][] means(int member, int slots) {
        if (means == null) {
            means = meanArray().toFloatArray();
        }
        return rows(means, member, slots);
    }

    /** {@link #means} left on the device: a view, f32 (kvHeads, slots, 1), as {@link SlotScores} adds it. */
    NDArray meansOnDevice(int member, int slots) {
        NDArray mine = deviceMeans().get(member);
        return slots < width ? SlotRanges.view(mine, 0, slots) : mine;
    }

    private NDArray deviceMeans() {
        if (deviceMeans == null) {
            deviceMeans = meanArray().expandDims(3);
        }
        return deviceMeans;
    }

    private NDArray meanArray() {
        if (meanArray == null) {
            meanArray = probs.mean(new int[] {2}).toType(DataType.FLOAT32, false);
        }
        return meanArray;
    }

    /** Per KV head, the largest over its query heads of a member's attention to each of its slots. */
    float[][] maxes(int member, int slots) {
        if (maxes == null) {
            maxes = probs.max(new int[] {2}).toType(DataType.FLOAT32, false).toFloatArray();
        }
        return rows(maxes, member, slots);
    }

    /**
     * {@code −Σ a log a} of a member's attention row over its slots, averaged over all its query heads,
     * summed on the host as {@link AttentionObservation#hostEntropy} does.
     */
    double entropy(int member, int slots) {
        if (all == null) {
            all = probs.toType(DataType.FLOAT32, false).toFloatArray();
        }
        int heads = kvHeads * group;
        double h = 0;
        for (int row = 0; row < heads; row++) {
            double sum = 0;
            for (int i = (member * heads + row) * width, end = i + slots; i < end; i++) {
                float a = all[i];
                if (a > 0f) {
                    sum -= a * Math.log(a);
                }
            }
            h += sum;
        }
        return h / heads;
    }

    /**
     * {@link #entropy} summed on the device for every member at once: one copy of a value per member
     * instead of the group's probabilities. Padding has probability 0 and adds nothing.
     */
    double deviceEntropy(int member) {
        if (entropies == null) {
            NDArray p = probs.toType(DataType.FLOAT32, false);
            NDArray plogp = p.mul(p.clip(1e-30f, 1f).log()).neg();
            // one axis per mean, as DJL's PyTorch engine allows; groups are equal, so this is the mean over all heads
            entropies = plogp.sum(new int[] {3}).mean(new int[] {2}).mean(new int[] {1}).toFloatArray();
        }
        return entropies[member];
    }

    /** Whether the probabilities are on a GPU, where summaries are best reduced before they are copied. */
    boolean gpuWay() {
        return DevicePaths.gpuWay(probs.getDevice());
    }

    private float[][] rows(float[] flat, int member, int slots) {
        float[][] out = new float[kvHeads][];
        for (int h = 0; h < kvHeads; h++) {
            int from = (member * kvHeads + h) * width;
            out[h] = java.util.Arrays.copyOfRange(flat, from, from + slots);
        }
        return out;
    }
}
