package dev.kvlab.cache.policy;

import dev.kvlab.cache.policy.BoundedPolicy.Window;
import java.util.Arrays;
import java.util.function.IntFunction;

/**
 * The greedy merge loop of {@code entropy-merge} (DESIGN §4 step 2) for one KV head, in plain Java:
 * while slots must go, the unprotected slot with the highest priority to go, e, is folded into its
 * most similar unprotected slot m (or dropped when even m is less similar than the threshold).
 * Chains fold: if m later goes too, e's tokens follow m to wherever m went.
 */
final class MergePlanner {

    /**
     * One head's decision.
     *
     * @param keep surviving old slots, ascending
     * @param target per old slot, the new slot it ends up in, or -1 if its tokens were dropped
     * @param merges how many slots were folded into another rather than dropped
     */
    record HeadPlan(int[] keep, int[] target, int merges) {}

    private MergePlanner() {}

    /**
     * @param go per slot, the priority to go (highest first); not modified
     * @param counts per slot, the tokens it stands for; not modified
     * @param sumPriority whether a merged slot's priority is the sum of both (accumulated attention)
     *     rather than their count-weighted mean (entropy)
     * @param similarityRow the key cosine similarity of one slot to every slot of the head
     * @param threshold the least similarity that still merges
     */
    static HeadPlan plan(Window window, float[] go, float[] counts, boolean sumPriority,
            IntFunction<float[]> similarityRow, float threshold) {
        int stored = window.stored();
        float[] g = go.clone();
        float[] n = counts.clone();
        boolean[] gone = new boolean[stored];
        int[] parent = new int[stored];
        Arrays.fill(parent, -1);
        int merges = 0;
        for (int i = 0; i < window.removals(); i++) {
            int e = -1;
            for (int s = window.from(); s < window.to(); s++) {
                if (!gone[s] && (e < 0 || g[s] > g[e])) {
                    e = s;
                }
            }
            float[] row = similarityRow.apply(e);
            int m = -1;
            for (int s = window.from(); s < window.to(); s++) {
                if (!gone[s] && s != e && (m < 0 || row[s] > row[m])) {
                    m = s;
                }
            }
            gone[e] = true;
            if (m >= 0 && row[m] >= threshold) {
                parent[e] = m;
                g[m] = sumPriority ? g[m] + g[e] : (n[m] * g[m] + n[e] * g[e]) / (n[m] + n[e]);
                n[m] += n[e];
                merges++;
            }
        }
        int[] keep = new int[stored - window.removals()];
        int[] newIndex = new int[stored];
        for (int s = 0, k = 0; s < stored; s++) {
            if (!gone[s]) {
                newIndex[s] = k;
                keep[k++] = s;
            }
        }
        int[] target = new int[stored];
        for (int s = 0; s < stored; s++) {
            int r = s;
            while (gone[r] && parent[r] >= 0) {
                r = parent[r];
            }
            target[s] = gone[r] ? -1 : newIndex[r];
        }
        return new HeadPlan(keep, target, merges);
    }
}
