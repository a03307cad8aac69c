package dev.kvlab.cache.policy;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every bounded policy of {@link #POLICIES} through the same checks on tiny random models (Llama
 * with grouped-query attention, and GPT-2 where positions are learned): the budget holds on every
 * layer and head after every forward and mid-prefill stays under budget + chunk, sinks and the
 * recent window survive, the reported bytes are the tensors' real sizes, merges account for their
 * tokens, and a budget the sequence never reaches changes nothing. The cases are built from the
 * registered names, so a new policy is covered without being listed here.
 */
class PolicyMatrixTest {
    private static final int CHUNK = 8;
    private static final int PROMPT = 50;
    private static final int DECODE = 30;
    /** A budget every policy's defaults admit (SnapKV's window of 32 protects the most) and 80 tokens exceed. */
    private static final int DEFAULTS_BUDGET = 40;

    /** The shipped policies and the test-only ones, each registered with one line. */
    static final PolicyTypes POLICIES = PolicyRegistry.shipped()
            .with(KeepOldestPolicy.TYPE);

    @TempDir
    static Path dir;

    static TransformerModel llama;
    static TransformerModel gpt2;

    @BeforeAll
    static void load() {
        llama = ModelLoader.load(TinyModels.llama().writeTo(dir.resolve("llama")).dir(), new ModelLoader.Options("cpu", null));
        gpt2 = ModelLoader.load(TinyModels.gpt2().writeTo(dir.resolve("gpt2")).dir(), new ModelLoader.Options("cpu", null));
    }

    @AfterAll
    static void close() {
        llama.close();
        gpt2.close();
    }

    static Map<String, Object> spec(Object... keyValues) {
        Map<String, Object> spec = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            spec.put((String) keyValues[i], keyValues[i + 1]);
        }
        return spec;
    }

    /** The registered policies that take a budget: every one but {@code full}. */
    static List<String> boundedPolicies() {
        return POLICIES.names().stream().filter(name -> POLICIES.type(name).takesBudget()).toList();
    }

    static Stream<Arguments> boundedCases() {
        List<Arguments> cases = new ArrayList<>();
        for (String policy : boundedPolicies()) { // at its defaults, under each kind of budget, on both models
            cases.add(Arguments.of("llama", spec("policy", policy, "budget", DEFAULTS_BUDGET)));
            cases.add(Arguments.of("llama", spec("policy", policy, "budget", DEFAULTS_BUDGET, "compact_every", 3)));
            cases.add(Arguments.of("llama", spec("policy", policy, "budget_ratio", 0.5)));
            cases.add(Arguments.of("gpt2", spec("policy", policy, "budget", DEFAULTS_BUDGET)));
            // stored quantized: head dim 16, groups of 8, a window short enough that slots leave it
            cases.add(Arguments.of("llama", spec("policy", policy, "budget", DEFAULTS_BUDGET,
                    "quantization", "int8", "group_size", 8, "residual", 4)));
            cases.add(Arguments.of("llama", spec("policy", policy, "budget_ratio", 0.5, "compact_every", 3,
                    "quantization", "int4", "group_size", 16, "residual", 0)));
            cases.add(Arguments.of("gpt2", spec("policy", policy, "budget", DEFAULTS_BUDGET,
                    "quantization", "int8", "group_size", 16, "residual", 0)));
        }
        for (int budget : new int[] {12, 24}) { // the shipped policies' own parameters, at budgets that compact often
            for (Map<String, Object> s : List.of(
                    spec("policy", "streaming", "budget", budget),
                    spec("policy", "streaming", "budget", budget, "sinks", 1, "rope", "original"),
                    spec("policy", "h2o", "budget", budget),
                    spec("policy", "h2o", "budget", budget, "sinks", 2, "recent", 4),
                    spec("policy", "tova", "budget", budget),
                    spec("policy", "tova", "budget", budget, "sinks", 1, "recent", 2, "rope", "cache-index"),
                    spec("policy", "entropy-merge", "budget", budget),
                    spec("policy", "entropy-merge", "budget", budget, "priority", "attention"),
                    spec("policy", "entropy-merge", "budget", budget, "similarity", -1.0),
                    spec("policy", "random", "budget", budget, "seed", 3),
                    spec("policy", "snapkv", "budget", budget, "window", 4),
                    spec("policy", "snapkv", "budget", budget, "window", 6, "kernel", 3, "pooling", "max", "sinks", 1),
                    spec("policy", "knorm", "budget", budget),
                    spec("policy", "knorm", "budget", budget, "sinks", 1, "recent", 2, "rope", "cache-index",
                            "keep", "high"))) {
                cases.add(Arguments.of("llama", s));
            }
        }
        for (Map<String, Object> s : List.of( // compaction every few tokens: up to compact_every - 1 slots wait
                spec("policy", "streaming", "budget", 12, "compact_every", 3),
                spec("policy", "h2o", "budget", 12, "compact_every", 4),
                spec("policy", "entropy-merge", "budget", 12, "compact_every", 5),
                spec("policy", "random", "budget", 12, "compact_every", 16),
                spec("policy", "tova", "budget_ratio", 0.5, "compact_every", 2),
                spec("policy", "snapkv", "budget", 12, "window", 4, "compact_every", 3),
                spec("policy", "knorm", "budget_ratio", 0.4, "compact_every", 2))) {
            cases.add(Arguments.of("llama", s));
        }
        for (Map<String, Object> s : List.of(
                spec("policy", "h2o", "budget_ratio", 0.3),
                spec("policy", "entropy-merge", "budget_ratio", 0.4, "similarity", -1.0))) {
            cases.add(Arguments.of("llama", s));
        }
        cases.add(Arguments.of("gpt2", spec("policy", "snapkv", "budget", 16, "window", 4)));
        return cases.stream();
    }

    private static TransformerModel model(String name) {
        return name.equals("gpt2") ? gpt2 : llama;
    }

    private static int[] tokens(TransformerModel model, int count, long seed) {
        return new Random(seed).ints(count, 0, model.config().vocabSize()).toArray();
    }

    /**
     * Prefills {@code prompt} in chunks, then decodes {@code decode} more tokens (teacher-forced), calling
     * {@code check} after every forward; returns every forward's last-position logits.
     */
    static List<float[]> run(TransformerModel model, CachePolicy policy, int chunk, int[] sequence, int promptLength,
            Consumer<KvCache> check) {
        List<float[]> logits = new ArrayList<>();
        WatchedPolicy watched = policy instanceof BoundedPolicy ? new WatchedPolicy(policy) : null;
        try (KvCache cache = model.newCache(watched != null ? watched : policy, chunk)) {
            int from = 0;
            while (from < sequence.length) {
                int to = from < promptLength ? Math.min(promptLength, from + chunk) : from + 1;
                if (watched != null) {
                    watched.tokensThisForward = to - from;
                }
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    NDArray out = model.forward(Arrays.copyOfRange(sequence, from, to), cache, false);
                    logits.add(out.toFloatArray());
                }
                from = to;
                check.accept(cache);
            }
            if (watched != null) {
                assertThat(watched.violations).isEmpty();
            }
        }
        return logits;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("boundedCases")
    void everyBoundedPolicyHoldsItsBudgetProtectedSlotsAndExactBytes(String modelName, Map<String, Object> spec) {
        TransformerModel model = model(modelName);
        BoundedPolicy policy = (BoundedPolicy) POLICIES.create(spec, model.config().architecture());
        int[] sequence = tokens(model, PROMPT + DECODE, 1);
        boolean mergesOnly = Double.valueOf(-1.0).equals(spec.get("similarity"));
        run(model, policy, CHUNK, sequence, PROMPT, cache -> {
            long seen = cache.seenTokens();
            int layers = cache.spec().layers();
            long realBytes = 0;
            long peakBound = 0;
            for (int l = 0; l < layers; l++) {
                int budget = policy.budgetAt(l, layers, seen);
                int recent = policy instanceof StreamingPolicy ? budget - policy.sinks() : policy.recentAt(budget);
                peakBound += cache.spec().layerBytes(policy.maxSlots(l, layers) + CHUNK, policy.quantization());
                LayerCache layer = cache.layer(l);
                int waiting = policy.compactEvery() - 1; // slots allowed over the budget between compactions
                assertThat(layer.stored()).isLessThanOrEqualTo(budget + waiting);
                if (policy.hasFixedBudget()) {
                    assertThat(layer.stored()).isBetween((int) Math.min(seen, budget), (int) Math.min(seen, budget + waiting));
                }
                for (int h = 0; h < layer.spec().kvHeads(); h++) {
                    int[] positions = layer.positions(h);
                    assertThat(positions).hasSize(layer.stored()).isSorted().doesNotHaveDuplicates();
                    int keptSinks = (int) Math.min(policy.sinks(), seen);
                    for (int i = 0; i < keptSinks; i++) {
                        assertThat(positions[i]).as("sink %d, layer %d head %d", i, l, h).isEqualTo(i);
                    }
                    int keptRecent = (int) Math.min(recent, seen);
                    for (int i = 1; i <= keptRecent; i++) {
                        assertThat(positions[positions.length - i]).as("recent, layer %d head %d", l, h)
                                .isEqualTo((int) seen - i);
                    }
                    double tokens = 0;
                    for (float n : layer.counts(h)) {
                        assertThat(n).isGreaterThanOrEqualTo(1f);
                        tokens += n;
                    }
                    if (mergesOnly) {
                        assertThat(tokens).as("Σn, layer %d head %d", l, h).isEqualTo(seen);
                    } else if (!(policy instanceof EntropyMergePolicy)) {
                        assertThat(tokens).isEqualTo(layer.stored());
                    } else {
                        assertThat(tokens).isLessThanOrEqualTo(seen);
                    }
                }
                for (NDArray tensor : layer.storedTensors()) {
                    realBytes += tensor.size() * tensor.getDataType().getNumOfBytes();
                }
                assertThat(layer.keys().getShape().get(1)).isEqualTo(layer.stored());
            }
            assertThat(cache.bytes()).isEqualTo(realBytes);
            assertThat(cache.stats().bytes()).isEqualTo(realBytes);
            assertThat(cache.stats().fullCacheBytes()).isEqualTo(cache.spec().fullBytes(seen));
            if (policy.hasFixedBudget()) {
                assertThat(cache.stats().peakBytes())
                        .isLessThanOrEqualTo(peakBound);
            }
        });
    }

    @Test
    void streamingKeepsExactlyTheSinkAndWindowPositionsInTheModel() {
        int[] sequence = tokens(llama, PROMPT + DECODE, 2);
        run(llama, PolicyRegistry.create(spec("policy", "streaming", "budget", 20, "sinks", 3)), CHUNK, sequence, PROMPT,
                cache -> {
                    int seen = (int) cache.seenTokens();
                    int[] expected = seen <= 20 ? IntStream.range(0, seen).toArray()
                            : IntStream.concat(IntStream.range(0, 3),
                                    IntStream.range(seen - 17, seen)).toArray();
                    for (int l = 0; l < 2; l++) {
                        for (int h = 0; h < 2; h++) {
                            assertThat(cache.layer(l).positions(h)).containsExactly(expected);
                        }
                    }
                });
    }

    static Stream<Arguments> generousBudgets() {
        List<Arguments> cases = new ArrayList<>();
        for (String m : List.of("llama", "gpt2")) {
            for (String policy : boundedPolicies()) {
                cases.add(Arguments.of(m, spec("policy", policy, "budget", PROMPT + DECODE)));
            }
            cases.add(Arguments.of(m, spec("policy", "entropy-merge", "budget_ratio", 1.0, "priority", "attention")));
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("generousBudgets")
    void aBudgetTheSequenceNeverReachesGivesTheLogitsOfFull(String modelName, Map<String, Object> spec) {
        TransformerModel model = model(modelName);
        int[] sequence = tokens(model, PROMPT + DECODE, 3);
        List<float[]> full = run(model, new FullPolicy(), CHUNK, sequence, PROMPT, c -> { });
        Map<String, Object> everyLayer = budgetInEveryLayer(model, spec, sequence.length);
        List<float[]> bounded = run(model, POLICIES.create(everyLayer, model.config().architecture()), CHUNK, sequence,
                PROMPT, c -> assertThat(c.stats().evicted() + c.stats().merged()).isZero());
        assertThat(bounded).hasSameSizeAs(full);
        for (int i = 0; i < full.size(); i++) {
            float worst = 0;
            for (int v = 0; v < full.get(i).length; v++) {
                worst = Math.max(worst, Math.abs(full.get(i)[v] - bounded.get(i)[v]));
            }
            assertThat(worst).as("forward %d", i).isLessThanOrEqualTo(1e-5f);
        }
    }

    /**
     * {@code spec} with its {@code budget} doubled until every layer's budget holds {@code length}
     * slots: a policy that shares the total out unevenly gives some layers less than the average.
     */
    private static Map<String, Object> budgetInEveryLayer(TransformerModel model, Map<String, Object> spec, int length) {
        Map<String, Object> s = new java.util.LinkedHashMap<>(spec);
        int layers = model.kvSpec().layers();
        while (s.containsKey("budget")) {
            BoundedPolicy p = (BoundedPolicy) POLICIES.create(s, model.config().architecture());
            int l = 0;
            while (l < layers && p.budgetAt(l, layers, length) >= length) {
                l++;
            }
            if (l == layers) {
                break;
            }
            s.put("budget", 2 * ((Number) s.get("budget")).intValue());
        }
        return s;
    }

    @Test
    void aPolicyRegisteredByATestRunsThroughEveryCaseOfTheMatrix() {
        List<String> shippedBounded = PolicyRegistry.names().stream().filter(name -> !name.equals("full")).toList();
        assertThat(boundedPolicies()).containsAll(shippedBounded).contains("keep-oldest");
        assertThat(PolicyRegistry.names()).doesNotContain("keep-oldest"); // the server never offers it
        assertThat(policiesIn(boundedCases())).containsAll(boundedPolicies());
        assertThat(policiesIn(generousBudgets())).containsAll(boundedPolicies());
        int[] sequence = tokens(llama, PROMPT + DECODE, 7);
        CachePolicy keepOldest = POLICIES.create(spec("policy", "keep-oldest", "budget", 12, "recent", 3),
                llama.config().architecture());
        run(llama, keepOldest, CHUNK, sequence, PROMPT, cache -> { // 9 oldest slots, then the 3 newest
            int seen = (int) cache.seenTokens();
            int[] expected = seen <= 12 ? IntStream.range(0, seen).toArray()
                    : IntStream.concat(IntStream.range(0, 9), IntStream.range(seen - 3, seen)).toArray();
            assertThat(cache.layer(1).positions(0)).containsExactly(expected);
        });
    }

    private static List<String> policiesIn(Stream<Arguments> cases) {
        return cases.map(c -> (String) ((Map<?, ?>) c.get()[1]).get("policy")).distinct().toList();
    }

    @Test
    void compressingChangesTheLogitsSoTheGenerousBudgetCheckCanFail() {
        int[] sequence = tokens(llama, PROMPT + DECODE, 3);
        List<float[]> full = run(llama, new FullPolicy(), CHUNK, sequence, PROMPT, c -> { });
        List<float[]> h2o = run(llama, PolicyRegistry.create(spec("policy", "h2o", "budget", 12)), CHUNK, sequence,
                PROMPT, c -> { });
        assertThat(h2o.get(h2o.size() - 1)).isNotEqualTo(full.get(full.size() - 1));
    }

    @Test
    void randomIsDeterministicPerSeed() {
        int[] sequence = tokens(llama, PROMPT + DECODE, 4);
        List<int[]> a = new ArrayList<>();
        List<int[]> b = new ArrayList<>();
        List<int[]> c = new ArrayList<>();
        List<float[]> logitsA = run(llama, PolicyRegistry.create(spec("policy", "random", "budget", 16, "seed", 11)),
                CHUNK, sequence, PROMPT, cache -> a.add(cache.layer(1).positions(0).clone()));
        List<float[]> logitsB = run(llama, PolicyRegistry.create(spec("policy", "random", "budget", 16, "seed", 11)),
                CHUNK, sequence, PROMPT, cache -> b.add(cache.layer(1).positions(0).clone()));
        run(llama, PolicyRegistry.create(spec("policy", "random", "budget", 16, "seed", 12)), CHUNK, sequence, PROMPT,
                cache -> c.add(cache.layer(1).positions(0).clone()));
        assertThat(b).containsExactlyElementsOf(a);
        assertThat(logitsB).containsExactlyElementsOf(logitsA);
        assertThat(c.get(c.size() - 1)).isNotEqualTo(a.get(a.size() - 1));
    }

    /** DESIGN §4: a long prompt under a bounded policy holds at most budget + chunk, whatever its length. */
    @ParameterizedTest
    @ValueSource(strings = {"streaming", "h2o"})
    void aLongPromptNeverHoldsMoreThanBudgetPlusChunk(String name) {
        long[] peaks = new long[2];
        for (int i = 0; i < 2; i++) {
            int length = 4096 << i;
            int[] prompt = tokens(llama, length, 5);
            int slot = i;
            // the watcher checks every layer against budget + chunk before each compaction
            run(llama, PolicyRegistry.create(spec("policy", name, "budget", 64)), 128, prompt, length - 4, cache -> {
                assertThat(cache.storedTokens()).isEqualTo(64);
                peaks[slot] = cache.stats().peakBytes();
            });
        }
        // one layer at a time holds budget + chunk (192 slots) while the others hold the budget
        var kv = llama.kvSpec();
        assertThat(peaks[0]).isEqualTo(kv.layerBytes(64 + 128) + (kv.layers() - 1) * kv.layerBytes(64));
        assertThat(peaks[1]).isEqualTo(peaks[0]);
    }

    @Test
    void cacheIndexPositionsRunPastTheTrainedContextWithFiniteLogits() {
        int maxPositions = llama.config().maxPositions();
        int[] sequence = tokens(llama, maxPositions + 150, 6);
        CachePolicy policy = PolicyRegistry.create(spec("policy", "streaming", "budget", 48));
        assertThat(policy.ropeMode()).isEqualTo(RopeMode.CACHE_INDEX);
        List<float[]> logits = run(llama, policy, 32, sequence, maxPositions + 50, cache -> {
            assertThat(cache.storedTokens()).isLessThanOrEqualTo(48);
            int[] positions = cache.layer(0).positions(0);
            assertThat(positions[positions.length - 1]).isEqualTo((int) cache.seenTokens() - 1);
        });
        for (float[] row : logits) {
            for (float v : row) {
                assertThat(Float.isFinite(v)).isTrue();
            }
        }
    }
}
