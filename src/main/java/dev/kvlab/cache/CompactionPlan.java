package dev.kvlab.cache;

/**
 * How a policy reshapes one layer of the cache: for every KV head, which old slot each new slot is
 * built from. Every head keeps the same number of slots (the tensors stay rectangular), but which
 * tokens each head keeps may differ.
 *
 * @param keep per head, the old slot indices that survive as representatives, ascending; new slot
 *     {@code i} of head {@code h} takes the position of old slot {@code keep[h][i]}
 * @param target per head and old slot, the new slot it is folded into, or -1 if dropped; {@code
 *     null} when the plan only drops (then every slot not in {@code keep} is dropped). A new slot's
 *     key and value are the count-weighted mean of all old slots that target it.
 */
public record CompactionPlan(int[][] keep, int[][] target) {

    public static CompactionPlan dropOnly(int[][] keep) {
        return new CompactionPlan(keep, null);
    }

    public int newStored() {
        return keep[0].length;
    }

    public boolean merges() {
        return target != null;
    }

    /**
     * Row of each new slot in a layer's buffer seen as (kvHeads·stride, headDim), head after head:
     * head h's new slot i is row {@code h·stride + keep[h][i]}.
     */
    long[] rows(int stride) {
        int newStored = newStored();
        long[] index = new long[keep.length * newStored];
        for (int h = 0; h < keep.length; h++) {
            for (int i = 0; i < newStored; i++) {
                index[h * newStored + i] = (long) h * stride + keep[h][i];
            }
        }
        return index;
    }
}
