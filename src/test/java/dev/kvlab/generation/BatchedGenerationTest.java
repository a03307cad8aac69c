package dev.kvlab.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.model.ForwardPass;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.SequenceInput;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.testing.TinyModel;
import dev.kvlab.testing.TinyModels;
import dev.kvlab.tokenizer.TextTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Continuous batching must not change what any sequence gets: mixed policies, budgets, RoPE modes and
 * sampling settings in one batch give every sequence the logits and tokens it gets alone; sequences
 * that join, are cancelled or fail mid-batch leave the others' tokens unchanged.
 */
class BatchedGenerationTest {
    @TempDir
    static Path dir;

    static TransformerModel tinyModel;
    static TextTokenizer tinyTokenizer;

    private static final String[] PROMPTS = {
        "the cat sat on the mat and looked at the door for a long while",
        "a short one",
        "numbers 0123456789 and letters abcdefghij and more words after them, repeated: " + "again and ".repeat(12),
        "x",
        "the quick brown fox jumps over the lazy dog, then the dog wakes up",
        "seven: 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7",
    };

    /** Every policy, both RoPE modes, several budgets (per layer for pyramidkv) and compaction cadences. */
    private static final List<Map<String, Object>> POLICIES = List.of(
            Map.of("policy", "full"),
            Map.of("policy", "streaming", "budget", 12, "sinks", 2),
            Map.of("policy", "h2o", "budget", 10),
            Map.of("policy", "tova", "budget", 14),
            Map.of("policy", "entropy-merge", "budget", 12),
            Map.of("policy", "random", "budget", 9, "seed", 3),
            Map.of("policy", "h2o", "budget", 16, "compact_every", 4, "rope", "cache-index"),
            Map.of("policy", "full", "quantization", "int8", "group_size", 16, "residual", 0),
            Map.of("policy", "entropy-merge", "budget", 12, "quantization", "int4", "group_size", 16, "residual", 0),
            Map.of("policy", "pyramidkv", "budget", 12, "window", 4));

    private static final List<SamplingParams> SAMPLING = List.of(
            SamplingParams.greedy(), new SamplingParams(0.9, 20, 0.95, 7), SamplingParams.greedy(),
            new SamplingParams(1.2, 0, 0.8, 11), SamplingParams.greedy(), new SamplingParams(0.7, 5, 1.0, 5),
            SamplingParams.greedy(), SamplingParams.greedy(), new SamplingParams(0.8, 10, 0.9, 13),
            SamplingParams.greedy());

    @BeforeAll
    static void load() {
        TinyModel tiny = TinyModels.llama().seed(5).writeTo(dir.resolve("llama"));
        tinyModel = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null));
        tinyTokenizer = TextTokenizer.load(tiny.tokenizerJson());
    }

    @AfterAll
    static void close() {
        tinyModel.close();
        tinyTokenizer.close();
    }

    private static Generator tinyGenerator() {
        return new Generator(tinyModel, tinyTokenizer, new int[0], TinyModels.BOS_ID, 8);
    }

    private static List<GenerationRequest> mixedRequests(int maxNew) {
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < POLICIES.size(); i++) {
            requests.add(new GenerationRequest(PROMPTS[i % PROMPTS.length], maxNew, SAMPLING.get(i), List.of(),
                    PolicyRegistry.create(POLICIES.get(i))));
        }
        return requests;
    }

    /** A fresh policy instance for the same request (policies hold per-request state). */
    private static GenerationRequest again(GenerationRequest r, int index) {
        return new GenerationRequest(r.prompt(), r.maxNewTokens(), r.sampling(), r.stop(),
                PolicyRegistry.create(POLICIES.get(index)), r.ignoreEos());
    }

    static Stream<Arguments> models() {
        return Stream.of(Arguments.of("tiny fixture"), Arguments.of("shipped kvlab-tiny"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void batchedLogitsEqualEachSequenceAlone(String which) {
        Path shipped = Path.of("models/kvlab-tiny");
        if (which.startsWith("shipped")) {
            Assumptions.assumeTrue(Files.isDirectory(shipped), "the shipped model is in the repository");
            try (TransformerModel model = ModelLoader.load(shipped, new ModelLoader.Options("cpu", null));
                    TextTokenizer tokenizer = TextTokenizer.load(ModelFolder.open(shipped).tokenizerFile())) {
                compareLogits(model, tokenizer);
            }
        } else {
            compareLogits(tinyModel, tinyTokenizer);
        }
    }

    /**
     * Greedy decoding of every policy, alone (one forward per step) and batched (one forward per step
     * for all): each step's logits agree to 1e-4 and so do the greedy tokens. Prompts of different
     * lengths are prefilled in one batched pass of several chunks, then decoded together.
     */
    private static void compareLogits(TransformerModel model, TextTokenizer tokenizer) {
        int steps = 24;
        int n = POLICIES.size();
        int[][] prompts = new int[n][];
        for (int i = 0; i < n; i++) {
            prompts[i] = tokenizer.encode(PROMPTS[i % PROMPTS.length]);
        }
        float[][][] alone = new float[n][steps][];
        int[][] aloneTokens = new int[n][steps];
        for (int i = 0; i < n; i++) {
            try (KvCache cache = model.newCache(PolicyRegistry.create(POLICIES.get(i)), 64)) {
                int[] next = prompts[i];
                for (int s = 0; s < steps; s++) {
                    try (NDScope scope = new NDScope()) {
                        scope.suppressNotUsedWarning();
                        alone[i][s] = model.forward(next, cache, false).toFloatArray();
                    }
                    aloneTokens[i][s] = Samplers.argmax(alone[i][s]);
                    next = new int[] {aloneTokens[i][s]};
                }
            }
        }
        List<KvCache> caches = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                caches.add(model.newCache(PolicyRegistry.create(POLICIES.get(i)), 64));
            }
            int[][] next = prompts.clone();
            for (int s = 0; s < steps; s++) {
                List<SequenceInput> inputs = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    inputs.add(new SequenceInput(caches.get(i), next[i], false));
                }
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    ForwardPass pass = model.forward(inputs);
                    for (int i = 0; i < n; i++) {
                        pass.commit(i);
                        float[] logits = pass.lastLogits(i);
                        assertClose(alone[i][s], logits, "policy " + POLICIES.get(i) + ", step " + s);
                        int token = Samplers.argmax(logits);
                        assertThat(token).as("greedy token of %s at step %d", POLICIES.get(i), s)
                                .isEqualTo(aloneTokens[i][s]);
                        next[i] = new int[] {token};
                    }
                }
            }
        } finally {
            caches.forEach(KvCache::close);
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertThat(actual).hasSameSizeAs(expected);
        float worst = 0;
        for (int v = 0; v < expected.length; v++) {
            worst = Math.max(worst, Math.abs(expected[v] - actual[v]));
        }
        assertThat(worst).as("largest logit difference, %s", what).isLessThanOrEqualTo(1e-4f);
    }

    @Test
    void sameSeedSameTextAloneOrBatched() {
        Generator generator = tinyGenerator();
        List<GenerationRequest> requests = mixedRequests(20);
        List<String> alone = new ArrayList<>();
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            alone.add(generator.generate(again(requests.get(i), i), TokenListener.NONE).text());
            prompts.add(generator.promptTokens(requests.get(i).prompt()));
        }
        List<GenerationResult> batched = generator.generateAll(requests, prompts, 9 + requests.size());
        for (int i = 0; i < requests.size(); i++) {
            assertThat(batched.get(i).text()).as("request %d (%s)", i, POLICIES.get(i)).isEqualTo(alone.get(i));
            assertThat(batched.get(i).completionTokens()).isEqualTo(20);
        }
    }

    /** Tokens a listener saw, and a latch that opens after a given number of them. */
    private static final class Recorder implements TokenListener {
        final List<Integer> tokens = new CopyOnWriteArrayList<>();
        final CountDownLatch reached;

        Recorder(int after) {
            reached = new CountDownLatch(after);
        }

        @Override
        public void onToken(int tokenId, String text) {
            if (tokenId >= 0) {
                tokens.add(tokenId);
                reached.countDown();
            }
        }
    }

    private List<Integer> aloneTokens(Generator generator, GenerationRequest request) {
        Recorder r = new Recorder(0);
        generator.generate(request, r);
        return r.tokens;
    }

    @Test
    void sequencesJoiningAndCancelledMidBatchLeaveTheOthersUnchanged() throws Exception {
        Generator generator = tinyGenerator();
        List<GenerationRequest> requests = mixedRequests(60);
        List<Integer> expectedA = aloneTokens(generator, again(requests.get(0), 0));
        List<Integer> expectedB = aloneTokens(generator, again(requests.get(2), 2));
        try (StepScheduler scheduler = new StepScheduler(generator, 8, 16, StepScheduler.StepObserver.NONE)) {
            Recorder a = new Recorder(10);
            Recorder b = new Recorder(1);
            Recorder cancelled = new Recorder(5);
            StepScheduler.Handle ha = scheduler.submit(requests.get(0), generator.promptTokens(PROMPTS[0]), a);
            StepScheduler.Handle hc = scheduler.submit(requests.get(1), generator.promptTokens(PROMPTS[1]), cancelled);
            assertThat(a.reached.await(10, TimeUnit.SECONDS)).isTrue();
            StepScheduler.Handle hb = scheduler.submit(requests.get(2), generator.promptTokens(PROMPTS[2]), b);
            assertThat(cancelled.reached.await(10, TimeUnit.SECONDS)).isTrue();
            hc.cancel("test cancels it");
            GenerationResult ra = ha.result().get(30, TimeUnit.SECONDS);
            GenerationResult rb = hb.result().get(30, TimeUnit.SECONDS);
            assertThatThrownBy(() -> hc.result().join()).isInstanceOf(CompletionException.class)
                    .hasCauseInstanceOf(GenerationCancelledException.class);
            assertThat(cancelled.tokens.size()).isLessThan(60);
            assertThat(a.tokens).isEqualTo(expectedA);
            assertThat(b.tokens).isEqualTo(expectedB);
            assertThat(ra.completionTokens()).isEqualTo(60);
            assertThat(rb.completionTokens()).isEqualTo(60);
        }
    }

    @Test
    void outOfMemoryInABatchedStepFailsOneSequenceAndTheRestFinish() throws Exception {
        OomOnce model = new OomOnce(tinyModel, 6);
        Generator alone = tinyGenerator();
        Generator faulty = new Generator(model, tinyTokenizer, new int[0], TinyModels.BOS_ID, 8);
        List<GenerationRequest> requests = mixedRequests(30).subList(0, 4);
        List<List<Integer>> expected = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            expected.add(aloneTokens(alone, again(requests.get(i), i)));
        }
        try (StepScheduler scheduler = new StepScheduler(faulty, 8, 16, StepScheduler.StepObserver.NONE)) {
            List<Recorder> recorders = new ArrayList<>();
            List<StepScheduler.Handle> handles = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Recorder r = new Recorder(0);
                recorders.add(r);
                handles.add(scheduler.submit(requests.get(i), faulty.promptTokens(requests.get(i).prompt()), r));
            }
            int failed = 0;
            for (int i = 0; i < 4; i++) {
                try {
                    handles.get(i).result().get(30, TimeUnit.SECONDS);
                    assertThat(recorders.get(i).tokens).as("sequence %d", i).isEqualTo(expected.get(i));
                } catch (java.util.concurrent.ExecutionException e) {
                    assertThat(e.getCause()).isInstanceOf(EngineException.class).hasMessageContaining("out of memory");
                    failed++;
                }
            }
            assertThat(failed).isEqualTo(1);
            assertThat(model.failedBatchSize).isGreaterThan(1);
        }
    }

    /** The model, except that one batched pass (of several sequences) fails as a CUDA allocation would. */
    private static final class OomOnce implements TransformerModel {
        private final TransformerModel delegate;
        private int passesBeforeFailure;
        volatile int failedBatchSize;

        OomOnce(TransformerModel delegate, int passesBeforeFailure) {
            this.delegate = delegate;
            this.passesBeforeFailure = passesBeforeFailure;
        }

        @Override
        public ForwardPass forward(List<SequenceInput> batch) {
            if (batch.size() > 1 && passesBeforeFailure-- == 0) {
                // run part of the real pass first, so that staged slots exist when it fails
                ForwardPass pass = delegate.forward(batch);
                for (int i = 0; i < batch.size(); i++) {
                    pass.discard(i);
                }
                failedBatchSize = batch.size();
                throw new EngineException("CUDA out of memory. Tried to allocate 2.00 GiB");
            }
            return delegate.forward(batch);
        }

        @Override
        public void checkPositions(long first, int count) {
            delegate.checkPositions(first, count);
        }

        @Override
        public dev.kvlab.model.ModelConfig config() {
            return delegate.config();
        }

        @Override
        public dev.kvlab.cache.KvSpec kvSpec() {
            return delegate.kvSpec();
        }

        @Override
        public ai.djl.Device device() {
            return delegate.device();
        }

        @Override
        public ai.djl.ndarray.types.DataType dtype() {
            return delegate.dtype();
        }

        @Override
        public long parameterCount() {
            return delegate.parameterCount();
        }

        @Override
        public KvCache newCache(dev.kvlab.cache.policy.CachePolicy policy, int prefillChunk) {
            return delegate.newCache(policy, prefillChunk);
        }

        @Override
        public void close() {}
    }
}
