package dev.kvlab.cache.policy;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.KvSpec;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code snapkv} and {@code knorm} keep, on a layer filled by hand: SnapKV keeps the keys its
 * observation window looks at (and their pooled neighbours), key-norm keeps the smallest (or, with
 * {@code keep=high}, the largest) keys.
 */
class QuestionAwarePoliciesTest {
    private static final int SLOTS = 20;

    @TempDir
    static Path dir;

    static TransformerModel model;

    @BeforeAll
    static void load() {
        model = ModelLoader.load(TinyModels.llama().writeTo(dir.resolve("llama")).dir(),
                new ModelLoader.Options("cpu", null));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** A cache whose layer 0 holds {@link #SLOTS} slots; slot s's key has norm growing with s. */
    private static KvCache filled(CachePolicy policy, NDManager m) {
        KvCache cache = model.newCache(policy, SLOTS);
        KvSpec spec = model.kvSpec();
        float[] keys = new float[spec.kvHeads() * SLOTS * spec.headDim()];
        for (int h = 0; h < spec.kvHeads(); h++) {
            for (int s = 0; s < SLOTS; s++) {
                for (int d = 0; d < spec.headDim(); d++) {
                    keys[(h * SLOTS + s) * spec.headDim() + d] = (s + 1) * (d % 2 == 0 ? 1f : -1f);
                }
            }
        }
        Shape shape = new Shape(spec.kvHeads(), SLOTS, spec.headDim());
        cache.layer(0).append(m.create(keys, shape), m.zeros(shape), 0);
        return cache;
    }

    /**
     * Attention of {@link #SLOTS} new tokens over the slots: uniform, except that the last
     * {@code window} queries of head h look only at {@code focus[h]}.
     */
    private static AttentionObservation attention(NDManager m, int window, int[] focus) {
        return attention(m, (h, g, t, s) -> t >= SLOTS - window ? (s == focus[h] ? 1f : 0f) : 1f / SLOTS);
    }

    /** What query head g of KV head h, as new token t, pays slot s. */
    private interface Probability {
        float of(int h, int g, int t, int s);
    }

    /** Attention of {@link #SLOTS} new tokens over the slots, each probability as {@code p} says. */
    private static AttentionObservation attention(NDManager m, Probability p) {
        int heads = model.kvSpec().kvHeads();
        int group = model.config().numHeads() / heads;
        float[] probs = new float[heads * group * SLOTS * SLOTS];
        for (int h = 0; h < heads; h++) {
            for (int g = 0; g < group; g++) {
                for (int t = 0; t < SLOTS; t++) {
                    int row = ((h * group + g) * SLOTS + t) * SLOTS;
                    for (int s = 0; s < SLOTS; s++) {
                        probs[row + s] = p.of(h, g, t, s);
                    }
                }
            }
        }
        return new AttentionObservation(m.create(probs, new Shape(heads, group, SLOTS, SLOTS)));
    }

    @Test
    void snapKvKeepsWhatItsObservationWindowAttendsTo() {
        CachePolicy snap = PolicyRegistry.create(Map.of("policy", "snapkv", "budget", 6, "window", 2, "kernel", 1));
        try (NDManager m = NDManager.newBaseManager(); KvCache cache = filled(snap, m)) {
            snap.afterAttention(0, cache.layer(0), attention(m, 2, new int[] {3, 11}), SLOTS);
            LayerCache layer = cache.layer(0);
            assertThat(layer.stored()).isEqualTo(6);
            assertThat(layer.positions(0)).contains(3, 18, 19).doesNotContain(11);
            assertThat(layer.positions(1)).contains(11, 18, 19).doesNotContain(3);
        }
    }

    /**
     * With {@code heads=max} a key that one query head of the group relies on (slot 4: 0.8 from the
     * group's first head) outranks one every head looks at moderately (slot 9: 0.2 and 0.7), which
     * the mean prefers.
     */
    @Test
    void snapKvHeadsMaxKeepsTheKeyOneQueryHeadReliesOn() {
        Probability votes = (h, g, t, s) -> g == 0 ? (s == 4 ? 0.8f : s == 9 ? 0.2f : 0f)
                : (s == 9 ? 0.7f : s == 13 ? 0.3f : 0f);
        for (String reduction : new String[] {"mean", "max"}) {
            CachePolicy snap = PolicyRegistry.create(Map.of("policy", "snapkv", "budget", 3, "window", 2, "kernel", 1,
                    "heads", reduction));
            try (NDManager m = NDManager.newBaseManager(); KvCache cache = filled(snap, m)) {
                snap.afterAttention(0, cache.layer(0), attention(m, votes), SLOTS);
                assertThat(cache.layer(0).positions(0)).as(reduction)
                        .containsExactly(reduction.equals("max") ? 4 : 9, 18, 19);
            }
        }
    }

    @Test
    void snapKvPoolingKeepsTheNeighboursOfAFocusedKey() {
        CachePolicy snap = PolicyRegistry.create(Map.of("policy", "snapkv", "budget", 5, "window", 2, "kernel", 3,
                "pooling", "max"));
        try (NDManager m = NDManager.newBaseManager(); KvCache cache = filled(snap, m)) {
            snap.afterAttention(0, cache.layer(0), attention(m, 2, new int[] {7, 7}), SLOTS);
            assertThat(cache.layer(0).positions(0)).containsExactly(6, 7, 8, 18, 19);
        }
    }

    @Test
    void keyNormKeepsTheSmallestKeysOrTheLargest() {
        CachePolicy low = PolicyRegistry.create(Map.of("policy", "knorm", "budget", 4));
        CachePolicy high = PolicyRegistry.create(Map.of("policy", "knorm", "budget", 4, "keep", "high"));
        try (NDManager m = NDManager.newBaseManager(); KvCache a = filled(low, m); KvCache b = filled(high, m)) {
            low.afterAttention(0, a.layer(0), null, SLOTS);
            high.afterAttention(0, b.layer(0), null, SLOTS);
            assertThat(a.layer(0).positions(1)).containsExactly(0, 1, 2, 3);
            assertThat(b.layer(0).positions(1)).containsExactly(16, 17, 18, 19);
        }
    }

    @Test
    void pyramidBudgetsFallLinearlyFromTheLowestLayerAndKeepTheUniformTotal() {
        PyramidKvPolicy p = (PyramidKvPolicy) PolicyRegistry.create(
                Map.of("policy", "pyramidkv", "budget", 64, "window", 8));
        int layers = 6;
        int total = 0;
        int previous = Integer.MAX_VALUE;
        for (int l = 0; l < layers; l++) {
            int budget = p.budgetAt(l, layers, 10_000);
            assertThat(budget).as("layer %d", l).isLessThan(previous).isGreaterThan(8); // more than the window
            assertThat(p.maxSlots(l, layers)).isEqualTo(budget);
            total += budget;
            previous = budget;
        }
        assertThat(total).isEqualTo(layers * 64); // what snapkv keeps at budget 64
        // beyond the window: 2C − C/β in layer 0 and C/β in the top layer (C = 56, β = 20)
        assertThat(p.budgetAt(0, layers, 0)).isEqualTo(8 + 109);
        assertThat(p.budgetAt(layers - 1, layers, 0)).isEqualTo(8 + 3);
        assertThat(p.maxSlots()).isGreaterThanOrEqualTo(p.budgetAt(0, layers, 0));
        PyramidKvPolicy uniform = (PyramidKvPolicy) PolicyRegistry.create(
                Map.of("policy", "pyramidkv", "budget", 64, "window", 8, "beta", 1));
        assertThat(uniform.budgetAt(0, layers, 0)).isEqualTo(64);
        assertThat(uniform.budgetAt(layers - 1, layers, 0)).isEqualTo(64);
    }

    @Test
    void pyramidCachesHoldTheirLayersBudgetsInTheModel() {
        KvCache cache = model.newCache(PolicyRegistry.create(Map.of("policy", "pyramidkv", "budget", 24, "window", 4)), 16);
        int[] tokens = new java.util.Random(3).ints(80, 0, model.config().vocabSize()).toArray();
        try (NDManager m = NDManager.newBaseManager(); cache) {
            for (int from = 0; from < tokens.length; from += 16) {
                try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                    scope.suppressNotUsedWarning();
                    model.forward(java.util.Arrays.copyOfRange(tokens, from, from + 16), cache, false);
                }
            }
            int layers = model.kvSpec().layers();
            BoundedPolicy p = (BoundedPolicy) cache.policy();
            int total = 0;
            for (int l = 0; l < layers; l++) {
                assertThat(cache.layer(l).stored()).as("layer %d", l).isEqualTo(p.budgetAt(l, layers, 80));
                total += cache.layer(l).stored();
            }
            assertThat(total).isEqualTo(layers * 24);
            assertThat(cache.layer(0).stored()).isGreaterThan(cache.layer(layers - 1).stored());
        }
    }
}
