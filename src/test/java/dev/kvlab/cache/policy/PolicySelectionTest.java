package dev.kvlab.cache.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.kvlab.cache.policy.BoundedPolicy.Window;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** What each policy keeps, on hand-made keys and attention patterns where the answer is known. */
class PolicySelectionTest {

    private static CachePolicy policy(Object... keyValues) {
        Map<String, Object> spec = new java.util.LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            spec.put((String) keyValues[i], keyValues[i + 1]);
        }
        return PolicyRegistry.create(spec);
    }

    private static float[][][] zeros(int heads, int tokens, int dim) {
        return new float[heads][tokens][dim];
    }

    @Test
    void streamingKeepsExactlyTheSinksAndTheNewestWindow() {
        try (FabricatedLayer f = new FabricatedLayer(policy("policy", "streaming", "budget", 8, "sinks", 2), 2, 4)) {
            for (int chunk = 0; chunk < 4; chunk++) {
                f.step(zeros(2, 5, 4), zeros(2, 5, 4), null);
            }
            for (int h = 0; h < 2; h++) {
                assertThat(f.layer.positions(h)).containsExactly(0, 1, 14, 15, 16, 17, 18, 19);
            }
        }
    }

    @Test
    void compactEveryLetsSlotsWaitThenRemovesThemTogether() {
        try (FabricatedLayer f = new FabricatedLayer(policy("policy", "streaming", "budget", 6, "sinks", 2,
                "compact_every", 3), 1, 4)) {
            int[] stored = new int[14];
            for (int step = 0; step < stored.length; step++) {
                f.step(zeros(1, 1, 4), zeros(1, 1, 4), null);
                stored[step] = f.layer.stored();
            }
            // up to 2 slots wait over the budget of 6; the 3rd triggers a compaction back to 6
            assertThat(stored).containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 6, 7, 8, 6, 7, 8);
            assertThat(f.layer.positions(0)).containsExactly(0, 1, 8, 9, 10, 11, 12, 13);
        }
        assertThat(policy("policy", "h2o", "budget", 6, "compact_every", 3).maxSlots()).isEqualTo(8);
    }

    @Test
    void h2oKeepsTheTopAccumulatedScoresNotTheLatestOnes() {
        try (FabricatedLayer f = new FabricatedLayer(policy("policy", "h2o", "budget", 5, "sinks", 1, "recent", 1), 2, 2)) {
            Random random = new Random(1);
            f.stepWithRows(6, new float[][] {
                {.30f, .05f, .20f, .10f, .15f, .20f},
                {.10f, .40f, .02f, .30f, .08f, .10f}}, random);
            assertThat(f.layer.positions(0)).containsExactly(0, 2, 3, 4, 5);
            assertThat(f.layer.positions(1)).containsExactly(0, 1, 3, 4, 5);
            // the latest row alone would drop position 2 on head 0 and position 1 on head 1 (zeros, oldest first);
            // accumulated, the lowest are position 4 (0.15) and position 5 (0.10)
            f.stepWithRows(1, new float[][] {
                {.1f, .0f, .3f, .0f, .2f, .4f},
                {.1f, .0f, .0f, .5f, .0f, .4f}}, random);
            assertThat(f.layer.positions(0)).containsExactly(0, 2, 3, 5, 6);
            assertThat(f.layer.positions(1)).containsExactly(0, 1, 3, 4, 6);
            assertThat(f.layer.scores().scores(0)).containsExactly(new float[] {.4f, .2f, .4f, .4f, .4f}, within(1e-6f));
        }
    }

    @Test
    void h2oMatchesAnIndependentOracleOverManyRandomSteps() {
        int budget = 12;
        int recent = 3;
        int sinks = 2;
        try (FabricatedLayer f = new FabricatedLayer(policy("policy", "h2o", "budget", budget, "sinks", sinks,
                "recent", recent), 2, 2)) {
            Random random = new Random(42);
            List<List<double[]>> oracle = List.of(new ArrayList<>(), new ArrayList<>()); // per head: {position, score}
            int seen = 0;
            for (int step = 0; step < 40; step++) {
                int tokens = step % 10 == 0 ? 9 : 1; // some chunks (sorted selection), mostly single steps (scan)
                int stored = f.layer.stored() + tokens;
                float[][] rows = new float[2][stored];
                for (int h = 0; h < 2; h++) {
                    for (int s = 0; s < stored; s++) {
                        rows[h][s] = random.nextInt(1000) / 1000f;
                    }
                    List<double[]> slots = oracle.get(h);
                    for (int t = 0; t < tokens; t++) {
                        slots.add(new double[] {seen + t, 0});
                    }
                    for (int s = 0; s < stored; s++) {
                        slots.get(s)[1] = (float) slots.get(s)[1] + rows[h][s]; // float sums, as the policy's
                    }
                    while (slots.size() > budget) {
                        List<double[]> candidates = slots.subList(sinks, slots.size() - recent);
                        double[] lowest = candidates.stream().min(Comparator.comparingDouble(a -> a[1])).orElseThrow();
                        slots.remove(lowest);
                    }
                }
                f.stepWithRows(tokens, rows, random);
                seen += tokens;
                for (int h = 0; h < 2; h++) {
                    int[] expected = oracle.get(h).stream().mapToInt(a -> (int) a[0]).toArray();
                    assertThat(f.layer.positions(h)).as("head %d after step %d", h, step).containsExactly(expected);
                }
            }
        }
    }

    @Test
    void tovaRanksByTheMeanOverHeadsSoEveryHeadKeepsTheSamePositions() {
        try (FabricatedLayer f = new FabricatedLayer(policy("policy", "tova", "budget", 4), 2, 2)) {
            f.stepWithRows(6, new float[][] {
                {.35f, .05f, .20f, .10f, .20f, .10f},
                {.00f, .30f, .00f, .30f, .20f, .20f}}, new Random(3));
            // head 0 alone would drop 1 and 3, head 1 alone 0 and 2; the mean is lowest at 2 (0.10) and 5 (0.15)
            assertThat(f.layer.positions(0)).containsExactly(0, 1, 3, 4);
            assertThat(f.layer.positions(1)).containsExactly(0, 1, 3, 4);
        }
    }

    @Test
    void randomDropsOnlyUnprotectedSlotsAndRepeatsPerSeed() {
        int[][] first = randomRun(7);
        assertThat(randomRun(7)).isDeepEqualTo(first);
        assertThat(randomRun(8)).isNotEqualTo(first);
        for (int[] positions : first) {
            assertThat(positions).startsWith(0, 1, 2, 3).endsWith(36, 37, 38, 39).hasSize(16);
        }
        assertThat(first[0]).isNotEqualTo(first[1]); // heads choose independently
    }

    private static int[][] randomRun(long seed) {
        try (FabricatedLayer f = new FabricatedLayer(policy("policy", "random", "budget", 16, "seed", seed), 2, 2)) {
            for (int step = 0; step < 8; step++) {
                f.step(zeros(2, 5, 2), zeros(2, 5, 2), null);
            }
            return new int[][] {f.layer.positions(0).clone(), f.layer.positions(1).clone()};
        }
    }

    /** Keys of one head: 4 is nearly parallel to 2, 2 then leans to 5, 3 and 6 point away. */
    private static final float[][] KEYS = {
        {1, 0}, {0, 1}, {1, 1}, {-1, .1f}, {1, .9f}, {.1f, 1}, {-1, 0}, {.7f, 1}};

    /** Attention rows as queries: token 4 attends uniformly (entropy 1), token 2 nearly so, the rest one-hot. */
    private static float[][][][] entropyPattern() {
        float[][] rows = new float[8][8];
        for (int t = 0; t < 8; t++) {
            rows[t][t] = 1;
        }
        rows[2] = new float[] {.1f, .45f, .45f, 0, 0, 0, 0, 0};
        rows[4] = new float[] {.2f, .2f, .2f, .2f, .2f, 0, 0, 0};
        return new float[][][][] {{rows}};
    }

    private static float[][][] values(Random random, int tokens) {
        float[][][] v = new float[1][tokens][2];
        for (float[] row : v[0]) {
            row[0] = (float) random.nextGaussian();
            row[1] = (float) random.nextGaussian();
        }
        return v;
    }

    private static float[] mean(float[][] rows, float[] weights, int... slots) {
        float[] out = new float[rows[0].length];
        float total = 0;
        for (int i = 0; i < slots.length; i++) {
            total += weights[i];
            for (int d = 0; d < out.length; d++) {
                out[d] += weights[i] * rows[slots[i]][d];
            }
        }
        for (int d = 0; d < out.length; d++) {
            out[d] /= total;
        }
        return out;
    }

    @Test
    void entropyMergeFoldsChainsIntoCountWeightedMeansAndKeepsEveryToken() {
        try (FabricatedLayer f = new FabricatedLayer(policy("policy", "entropy-merge", "budget", 6, "sinks", 1,
                "recent", 1), 1, 2)) {
            Random random = new Random(5);
            float[][][] values = values(random, 8);
            f.step(new float[][][] {KEYS}, values, entropyPattern());
            // slot 4 (entropy 1) goes into 2, its nearest key; 2, now the mean of 0.86 and 1, goes into 5
            assertThat(f.layer.positions(0)).containsExactly(0, 1, 3, 5, 6, 7);
            assertThat(f.layer.counts(0)).containsExactly(1, 1, 1, 3, 1, 1);
            float[] three = {1, 1, 1};
            float[] mergedKey = mean(KEYS, three, 2, 4, 5);
            float[] mergedValue = mean(values[0], three, 2, 4, 5);
            assertThat(f.keys(0)[3]).containsExactly(mergedKey, within(1e-6f));
            assertThat(f.values(0)[3]).containsExactly(mergedValue, within(1e-6f));
            assertThat(f.keys(0)[2]).containsExactly(KEYS[3], within(0f));
            float h2 = (float) (-(.1 * Math.log(.1) + .9 * Math.log(.45)) / Math.log(3));
            assertThat(f.layer.scores().means(0)[3]).isCloseTo((h2 + 1 + 0) / 3, within(1e-5f));

            // one more token: the merged slot (n = 3) now goes into 7, weighted 3 : 1
            float[][][] newValue = values(random, 1);
            f.step(new float[][][] {{{-.5f, -.5f}}}, newValue,
                    new float[][][][] {{{{0, 0, 0, 0, 0, 0, 1}}}});
            assertThat(f.layer.positions(0)).containsExactly(0, 1, 3, 6, 7, 8);
            assertThat(f.layer.counts(0)).containsExactly(1, 1, 1, 1, 4, 1);
            float sum = 0;
            for (float n : f.layer.counts(0)) {
                sum += n;
            }
            assertThat(sum).isEqualTo(9f); // every token seen is still stood for
            float[][] before = {mergedKey, KEYS[7]};
            assertThat(f.keys(0)[4]).containsExactly(mean(before, new float[] {3, 1}, 0, 1), within(1e-6f));
            float[][] beforeValues = {mergedValue, values[0][7]};
            assertThat(f.values(0)[4]).containsExactly(mean(beforeValues, new float[] {3, 1}, 0, 1), within(1e-6f));
            assertThat(f.cache.stats().merged()).isEqualTo(3);
            assertThat(f.cache.stats().evicted()).isZero();
        }
    }

    @Test
    void entropyMergeDropsWhenNoKeyIsSimilarEnough() {
        try (FabricatedLayer f = new FabricatedLayer(policy("policy", "entropy-merge", "budget", 6, "sinks", 1,
                "recent", 1, "similarity", 0.9999), 1, 2)) {
            float[][][] values = values(new Random(5), 8);
            f.step(new float[][][] {KEYS}, values, entropyPattern());
            assertThat(f.layer.positions(0)).containsExactly(0, 1, 3, 5, 6, 7); // the two highest entropies, 4 and 2
            assertThat(f.layer.counts(0)).containsOnly(1f);
            assertThat(f.keys(0)[3]).containsExactly(KEYS[5], within(0f));
            assertThat(f.cache.stats().evicted()).isEqualTo(2);
        }
    }

    @Test
    void entropyMergeByAttentionSendsTheLeastAttendedSlotFirst() {
        try (FabricatedLayer f = new FabricatedLayer(policy("policy", "entropy-merge", "budget", 7, "sinks", 1,
                "recent", 1, "priority", "attention"), 1, 2)) {
            float[][] rows = new float[8][8];
            for (int t = 0; t < 8; t++) {
                rows[t][t] = 1; // every slot receives 1 from itself
            }
            rows[7] = new float[] {.2f, .2f, .2f, .2f, .0f, .1f, .05f, .25f}; // position 4 is the least attended
            f.step(new float[][][] {KEYS}, values(new Random(1), 8), new float[][][][] {{rows}});
            assertThat(f.layer.positions(0)).containsExactly(0, 1, 2, 3, 5, 6, 7);
            assertThat(f.layer.counts(0)).containsExactly(1, 1, 2, 1, 1, 1, 1); // 4 went into 2, its nearest key
        }
    }

    @Test
    void mergePlannerFollowsChainsAndDropsWhatFollowsADroppedSlot() {
        Window window = new Window(6, 1, 5, 2);
        float[] go = {0, 5, 1, 0, 4, 0};
        float[] counts = {1, 1, 1, 1, 1, 1};
        float[][] similarity = {
            {1, 0, 0, 0, 0, 0},
            {0, 1, .2f, .1f, .9f, 0},
            {0, .2f, 1, .1f, .3f, 0},
            {0, .1f, .1f, 1, -.6f, 0},
            {0, .9f, -.5f, -.6f, 1, .8f},
            {0, 0, 0, 0, .8f, 1}};
        // 1 goes into 4 (0.9); 4, at (5 + 4) / 2, goes next: its best left is 2 at -0.5
        MergePlanner.HeadPlan merged = MergePlanner.plan(window, go, counts, false, s -> similarity[s], -1f);
        assertThat(merged.keep()).containsExactly(0, 2, 3, 5);
        assertThat(merged.target()).containsExactly(0, 1, 1, 2, 1, 3);
        assertThat(merged.merges()).isEqualTo(2);
        MergePlanner.HeadPlan dropped = MergePlanner.plan(window, go, counts, false, s -> similarity[s], 0f);
        assertThat(dropped.keep()).containsExactly(0, 2, 3, 5);
        assertThat(dropped.target()).containsExactly(0, -1, 1, 2, -1, 3);
        assertThat(dropped.merges()).isEqualTo(1);
        assertThat(go).containsExactly(0, 5, 1, 0, 4, 0); // inputs untouched
    }
}
