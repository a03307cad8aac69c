package dev.kvlab.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SamplerTest {

    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    private static Sampler sampler(double temperature, int topK, double topP, long seed) {
        return Samplers.of(new SamplingParams(temperature, topK, topP, seed));
    }

    private static int[] counts(Sampler sampler, float[] logits, int draws) {
        int[] counts = new int[logits.length];
        for (int i = 0; i < draws; i++) {
            counts[sampler.sample(logits)]++;
        }
        return counts;
    }

    private static float[] randomLogits(int vocab, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] logits = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            logits[i] = (float) (random.nextGaussian() * 3);
        }
        return logits;
    }

    private static float[] logOf(double... probabilities) {
        float[] logits = new float[probabilities.length];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) Math.log(probabilities[i]);
        }
        return logits;
    }

    @Test
    void greedyPicksArgmaxAndLowestIdOnTies() {
        Sampler greedy = Samplers.of(SamplingParams.greedy());
        assertEquals(2, greedy.sample(new float[] {0.1f, -3f, 7.5f, 7.4f}));
        assertEquals(1, greedy.sample(new float[] {NEG_INF, 4f, 4f, NEG_INF}));
        assertEquals(3, greedy.sample(new float[] {-1f, -2f, 5f, Float.POSITIVE_INFINITY}));
    }

    @Test
    void tinyTemperatureTendsToGreedy() {
        float[] logits = {1.00f, 1.02f, 0.99f, -5f, 1.01f};
        for (double temperature : new double[] {1e-3, 1e-30, Double.MIN_VALUE}) {
            int[] counts = counts(sampler(temperature, 0, 1.0, 7), logits, 500);
            assertEquals(500, counts[1], "T=" + temperature + " " + Arrays.toString(counts));
        }
    }

    @Test
    void highTemperatureFlattensTheDistribution() {
        int[] counts = counts(sampler(1e6, 0, 1.0, 3), new float[] {10f, 0f}, 4000);
        assertTrue(Math.abs(counts[0] - 2000) < 200, Arrays.toString(counts));
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 42, -9, Long.MAX_VALUE})
    void topKOneEqualsGreedyForAnySeed(long seed) {
        Sampler topOne = sampler(1.5, 1, 1.0, seed);
        for (int step = 0; step < 50; step++) {
            float[] logits = randomLogits(1000, seed * 31 + step);
            assertEquals(Samplers.argmax(logits), topOne.sample(logits));
        }
    }

    @Test
    void topKNeverLeavesTheKBestAndUsesAllOfThem() {
        float[] logits = randomLogits(10_000, 11);
        int[] best = IntStream.range(0, logits.length).boxed()
                .sorted((a, b) -> Float.compare(logits[b], logits[a]))
                .limit(5).mapToInt(Integer::intValue).sorted().toArray();
        int[] counts = counts(sampler(50.0, 5, 1.0, 1), logits, 500);
        int[] seen = IntStream.range(0, counts.length).filter(i -> counts[i] > 0).toArray();
        assertArrayEquals(best, seen);
    }

    @Test
    void topPNeverSamplesOutsideTheNucleus() {
        // ids permuted so that the nucleus is not simply a prefix of the vocabulary
        float[] logits = logOf(0.15, 0.5, 0.05, 0.3);
        int[] counts = counts(sampler(1.0, 0, 0.8, 5), logits, 2000);
        assertEquals(0, counts[0] + counts[2], Arrays.toString(counts));
        assertTrue(counts[1] > 0 && counts[3] > 0, Arrays.toString(counts));
        assertEquals(0.5 / 0.8, counts[1] / 2000.0, 0.04);

        int[] wider = counts(sampler(1.0, 0, 0.81, 5), logits, 2000);
        assertEquals(0, wider[2], Arrays.toString(wider));
        assertTrue(wider[0] > 0 && wider[1] > 0 && wider[3] > 0, Arrays.toString(wider));
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.0, 0.3, 0.9, 0.99, 0.999999})
    void topPKeepsExactlyTheSmallestSetReachingP(double p) {
        for (long seed = 0; seed < 20; seed++) {
            float[] logits = randomLogits(3000, seed);
            Integer[] order = IntStream.range(0, logits.length).boxed().toArray(Integer[]::new);
            Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
            double total = 0;
            for (float x : logits) {
                total += Math.exp(x);
            }
            int size = 0;
            for (double mass = 0; size == 0 || mass < p * total; size++) {
                mass += Math.exp(logits[order[size]]);
            }
            int[] nucleus = Arrays.stream(order).limit(size).mapToInt(Integer::intValue).sorted().toArray();

            Candidates kept = Samplers.topP(p).apply(Candidates.all(Samplers.scale(logits, 1.0)));
            // compared as sets: far in the tail, rounding (x − max) to float may reorder near-ties
            assertArrayEquals(nucleus, Arrays.stream(kept.ids()).sorted().toArray(), "p=" + p + " seed=" + seed);
        }
    }

    @Test
    void topPKeepsAtLeastTheMostLikelyToken() {
        float[] logits = logOf(0.3, 0.4, 0.3);
        assertArrayEquals(new int[] {0, 1000, 0}, counts(sampler(1.0, 0, 0.0, 9), logits, 1000));
        assertArrayEquals(new int[] {0, 1000, 0}, counts(sampler(1.0, 0, 0.35, 9), logits, 1000));
    }

    @Test
    void topKThenTopPOnALargeVocabulary() {
        float[] logits = randomLogits(128_000, 4);
        float[] ranked = logits.clone();
        Arrays.sort(ranked);
        float fortiethBest = ranked[ranked.length - 40];
        Sampler sampler = sampler(0.8, 40, 0.9, 2);
        for (int i = 0; i < 50; i++) {
            assertTrue(logits[sampler.sample(logits)] >= fortiethBest);
        }
    }

    @Test
    void frequenciesMatchSoftmaxOfLogitsOverTemperature() {
        float[] logits = {2f, 1f, 0.5f, 0f, -1f, NEG_INF};
        double temperature = 0.7;
        int draws = 40_000;
        int[] counts = counts(sampler(temperature, 0, 1.0, 123), logits, draws);
        double[] expected = new double[logits.length];
        double total = 0;
        for (int i = 0; i < logits.length; i++) {
            expected[i] = Math.exp(logits[i] / temperature);
            total += expected[i];
        }
        for (int i = 0; i < logits.length; i++) {
            double p = expected[i] / total;
            double sigma = Math.sqrt(p * (1 - p) / draws);
            assertEquals(p, counts[i] / (double) draws, 5 * sigma + 1e-9, "token " + i + " " + Arrays.toString(counts));
        }
    }

    @Test
    void sameSeedSameDrawsDifferentSeedDifferentDraws() {
        float[] flat = new float[1000];
        int[] zeros = new int[100];
        Sampler a = sampler(1.0, 0, 1.0, 42);
        Sampler b = sampler(1.0, 0, 1.0, 42);
        Sampler c = sampler(1.0, 0, 1.0, 43);
        int[] drawsA = IntStream.range(0, 100).map(i -> a.sample(flat)).toArray();
        int[] drawsB = IntStream.range(0, 100).map(i -> b.sample(flat)).toArray();
        int[] drawsC = IntStream.range(0, 100).map(i -> c.sample(flat)).toArray();
        assertArrayEquals(drawsA, drawsB);
        assertNotEquals(Arrays.toString(drawsA), Arrays.toString(drawsC));
        assertNotEquals(Arrays.toString(zeros), Arrays.toString(drawsA));
    }

    @Test
    void leavesTheCallersLogitsUntouched() {
        float[] logits = randomLogits(1000, 8);
        float[] copy = logits.clone();
        sampler(0.5, 10, 0.9, 1).sample(logits);
        assertArrayEquals(copy, logits);
    }

    @Test
    void nanLogitsAreAnError() {
        float[] logits = {1f, Float.NaN, 0f};
        for (Sampler sampler : new Sampler[] {Samplers.GREEDY, sampler(1.0, 0, 1.0, 1), sampler(1.0, 2, 0.9, 1)}) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> sampler.sample(logits));
            assertTrue(e.getMessage().contains("NaN") && e.getMessage().contains("token 1"), e.getMessage());
        }
    }

    @Test
    void allMaskedLogitsAreAnError() {
        float[] logits = {NEG_INF, NEG_INF};
        assertThrows(IllegalStateException.class, () -> Samplers.GREEDY.sample(logits));
        assertThrows(IllegalStateException.class, () -> sampler(1.0, 0, 1.0, 1).sample(logits));
    }

    @Test
    void invalidParamsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(-0.1, 0, 1.0, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(Double.NaN, 0, 1.0, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1.0, -1, 1.0, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1.0, 0, 1.5, 0));
    }
}
