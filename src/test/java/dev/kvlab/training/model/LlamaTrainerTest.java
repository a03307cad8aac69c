package dev.kvlab.training.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.data.PassKeyDocuments;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.model.llama.LlamaModel;
import dev.kvlab.model.weights.SafetensorsFile;
import dev.kvlab.model.weights.SafetensorsWriter;
import dev.kvlab.tokenizer.TextTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaTrainerTest {
    private static final Path TOKENIZER = Path.of("models/kvlab-tiny/tokenizer.json");
    private static final String[] TOY_SENTENCES = {
        "The cat sat on the mat.", "The dog ran in the park.", "A bird sang in the old tree.",
        "The ship sailed across the sea.", "We the people of the United States.", "The whale swam deep below.",
        "Congress shall meet once a year.", "The captain looked at the sky."};

    private static TextTokenizer tokenizer;
    private static int bos;
    private static int eos;

    @BeforeAll
    static void loadTokenizer() {
        tokenizer = TextTokenizer.load(TOKENIZER);
        bos = tokenizer.tokenId("<|bos|>").orElseThrow();
        eos = tokenizer.tokenId("<|eos|>").orElseThrow();
    }

    @AfterAll
    static void closeTokenizer() {
        tokenizer.close();
    }

    private static TrainingOptions options(String... extra) {
        List<String> args = new ArrayList<>(List.of("--seq-len", "64", "--accum", "2", "--steps", "80", "--lr", "1e-2",
                "--warmup", "5", "--hidden", "32", "--layers", "2", "--heads", "4", "--kv-heads", "2",
                "--intermediate", "64", "--max-positions", "128", "--log-every", "20", "--checkpoint-minutes", "0"));
        args.addAll(List.of(extra));
        return TrainingOptions.parse(args.toArray(String[]::new));
    }

    private static TrainingData toyData(int seqLen, double passKeyFraction) {
        Random random = new Random(1);
        List<int[]> docs = new ArrayList<>();
        StringBuilder all = new StringBuilder();
        for (int d = 0; d < 40; d++) {
            StringBuilder doc = new StringBuilder();
            for (int s = 0; s < 12; s++) {
                doc.append(s == 0 ? "" : " ").append(TOY_SENTENCES[random.nextInt(TOY_SENTENCES.length)]);
            }
            docs.add(tokenizer.encode(doc.toString()));
            all.append(doc).append("\n\n");
        }
        PassKeyDocuments passKeys = new PassKeyDocuments(PassKeyDocuments.sentences(all.toString()),
                s -> tokenizer.encode(s).length);
        return new TrainingData(TrainingData.wrapDocuments(docs, bos, eos), seqLen, seqLen, passKeys, tokenizer::encode, bos,
                eos, passKeyFraction);
    }

    @Test
    void shortToyRunLowersTheLossClearly() throws Exception {
        TrainingOptions o = options();
        LlamaConfig config = o.modelConfig(tokenizer.vocabSize());
        List<String> log = new ArrayList<>();
        try (LlamaTrainer trainer = new LlamaTrainer(o, config, toyData(o.seqLen(), 0.25))) {
            double first = trainer.trainStep().loss();
            trainer.train(log::add, null);
            double last = 0;
            for (int i = 0; i < 5; i++) {
                last += trainer.trainStep().loss() / 5; // steps past the schedule keep the final rate
            }
            assertThat(first).isGreaterThan(7.5); // ≈ ln(vocab) at initialization
            assertThat(last).as("loss after 80 steps, started at %.2f; log %s", first, log).isLessThan(first - 3);
        }
        assertThat(log).hasSize(4).allMatch(l -> l.matches("step +\\d+/80 \\| loss [\\d.]+ \\| lr .* tok/s .*"));
    }

    @Test
    void autogradThroughTheCacheMatchesFiniteDifferences() {
        TrainingOptions o = options();
        LlamaConfig config = o.modelConfig(tokenizer.vocabSize());
        int[] window = toyData(o.seqLen(), 0).sample(new SplittableRandom(3));
        try (NDManager manager = NDManager.newBaseManager();
                LlamaParameters p = LlamaParameters.initialize(config, 5, manager)) {
            ai.djl.pytorch.jni.JniUtils.setGradMode(false);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                LlamaTrainer.windowLoss(config, p, window, gc, 1f, manager);
            }
            // layer 0 q/k/v (its keys and values pass through the cache's buffers), the tied embedding, a norm
            for (int index : new int[] {2, 0, 4}) {
                LlamaParameters.Parameter param = p.parameters().get(index);
                NDArray w = param.array();
                float[] grad = w.getGradient().toFloatArray();
                float[] base = w.toFloatArray();
                Random random = new Random(index);
                float[] direction = new float[base.length];
                double analytic = 0;
                for (int i = 0; i < base.length; i++) {
                    direction[i] = (float) random.nextGaussian();
                    analytic += direction[i] * grad[i];
                }
                double h = 1e-3 / Math.sqrt(base.length / 1000.0 + 1);
                double plus = lossWith(config, p, w, base, direction, h, window, manager);
                double minus = lossWith(config, p, w, base, direction, -h, window, manager);
                restore(w, base);
                double numeric = (plus - minus) / (2 * h);
                assertThat(numeric).as(param.name() + " analytic %.5f", analytic)
                        .isCloseTo(analytic, org.assertj.core.data.Offset.offset(Math.abs(analytic) * 0.03 + 1e-3));
            }
        }
    }

    private static double lossWith(LlamaConfig config, LlamaParameters p, NDArray w, float[] base, float[] direction,
            double h, int[] window, NDManager manager) {
        float[] moved = base.clone();
        for (int i = 0; i < moved.length; i++) {
            moved[i] += (float) (h * direction[i]);
        }
        restore(w, moved);
        return LlamaTrainer.windowLoss(config, p, window, null, 1f, manager);
    }

    private static void restore(NDArray w, float[] values) {
        try (NDManager scratch = NDManager.newBaseManager()) {
            w.set(new ai.djl.ndarray.index.NDIndex("..."), scratch.create(values, w.getShape()));
        }
    }

    @Test
    void savedModelReloadsThroughModelLoaderWithTheSameLogits(@TempDir Path dir) throws Exception {
        TrainingOptions o = options("--steps", "5");
        LlamaConfig config = o.modelConfig(tokenizer.vocabSize());
        int[] tokens = tokenizer.encode("The whale swam deep below. The captain looked at the sky.");
        try (LlamaTrainer trainer = new LlamaTrainer(o, config, toyData(o.seqLen(), 0))) {
            trainer.train(s -> { }, null);
            trainer.saveModel(dir, TOKENIZER, bos, eos, SafetensorsWriter.Dtype.F32);
            float[] expected;
            try (LlamaModel model = trainer.inferenceModel()) {
                expected = logits(model, tokens);
            }
            try (TransformerModel loaded = ModelLoader.load(dir, new ModelLoader.Options("cpu", null))) {
                assertEquals(config, loaded.config());
                float[] actual = logits(loaded, tokens);
                assertEquals(expected.length, actual.length);
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], actual[i], 1e-5, "logit " + i);
                }
            }
        }
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            assertArrayEquals(new long[] {64, 32}, f.shape("model.layers.1.mlp.gate_proj.weight"));
            assertArrayEquals(new long[] {32, 64}, f.shape("model.layers.1.mlp.down_proj.weight"));
            assertArrayEquals(new long[] {16, 32}, f.shape("model.layers.0.self_attn.k_proj.weight"));
            assertThat(f.names()).doesNotContain("lm_head.weight").hasSize(1 + 2 * 9 + 1);
        }
        String configJson = Files.readString(dir.resolve("config.json"));
        assertThat(configJson).contains("\"LlamaForCausalLM\"", "\"tie_word_embeddings\" : true", "\"bos_token_id\" : 0",
                "\"eos_token_id\" : 1", "\"rope_theta\" : 10000.0");
        assertThat(dir.resolve("generation_config.json")).exists();
        assertThat(Files.mismatch(dir.resolve("tokenizer.json"), TOKENIZER)).isEqualTo(-1);
    }

    private static float[] logits(TransformerModel model, int[] tokens) {
        try (KvCache cache = model.newCache(new FullPolicy(), tokens.length); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            return model.forward(tokens, cache, true).toFloatArray();
        }
    }

    @Test
    void resumingFromACheckpointContinuesTheSameRun(@TempDir Path dir) throws Exception {
        TrainingOptions o = options("--steps", "6");
        LlamaConfig config = o.modelConfig(tokenizer.vocabSize());
        TrainingData data = toyData(o.seqLen(), 0.25);
        float[] straight;
        try (LlamaTrainer trainer = new LlamaTrainer(o, config, data)) {
            trainer.train(s -> { }, null);
            straight = trainer.parameters().parameters().get(2).array().toFloatArray();
        }
        Checkpoints checkpoints = new Checkpoints(dir, TOKENIZER, bos, eos, "test");
        try (LlamaTrainer first = new LlamaTrainer(o, config, data)) {
            for (int i = 0; i < 3; i++) {
                first.trainStep(); // then "interrupted"
            }
            checkpoints.save(first, 1.5);
        }
        assertThat(checkpoints.exists()).isTrue();
        try (LlamaTrainer resumed = checkpoints.resume(o, config, data)) {
            assertEquals(3, resumed.step());
            assertEquals(1.5, resumed.trainingSeconds());
            resumed.train(s -> { }, null);
            assertEquals(6, resumed.step());
            float[] actual = resumed.parameters().parameters().get(2).array().toFloatArray();
            for (int i = 0; i < straight.length; i++) {
                assertEquals(straight[i], actual[i], 1e-5, "weight " + i);
            }
        }
    }

    @Test
    void passKeyWindowsEndWithWholeDocuments() {
        TrainingData data = toyData(256, 1.0);
        String question = PassKeyDocuments.QUESTION;
        for (int seed = 0; seed < 20; seed++) {
            int[] window = data.sample(new SplittableRandom(seed));
            assertEquals(257, window.length);
            assertEquals(eos, window[window.length - 1]);
            String text = tokenizer.decode(window);
            assertThat(text).contains(question).contains("Remember it.");
            String tail = text.substring(text.lastIndexOf(question) + question.length());
            assertThat(tail).matches(" \\d{5}\\.");
            int key = Integer.parseInt(tail.substring(1, 6));
            assertThat(text).contains(PassKeyDocuments.keySentence(key));
        }
    }

    @Test
    void answerTargetsAreExactlyTheKeyAndPeriodOfEachDocument() {
        TrainingData data = toyData(256, 1.0);
        for (int seed = 0; seed < 20; seed++) {
            TrainingData.Window window = data.sampleWindow(new SplittableRandom(seed));
            assertThat(window.tokens()).isEqualTo(data.sample(new SplittableRandom(seed)));
            int[] targets = window.answerTargets();
            assertThat(targets).isNotEmpty().isSorted();
            String text = tokenizer.decode(window.tokens());
            int documents = text.split(java.util.regex.Pattern.quote(PassKeyDocuments.QUESTION), -1).length - 1;
            StringBuilder answers = new StringBuilder();
            for (int t : targets) {
                answers.append(tokenizer.decode(new int[] {window.tokens()[t + 1]}));
            }
            // every document's answer, in order: " 12345." each, and nothing else
            assertThat(answers.toString()).matches("( \\d{5}\\.){" + documents + "}");
        }
        assertThat(toyData(256, 0).sampleWindow(new SplittableRandom(1)).answerTargets()).isEmpty();
    }

    @Test
    void answerWeightRaisesTheGradientOfTheAnswersOnly() {
        TrainingOptions o = options();
        LlamaConfig config = o.modelConfig(tokenizer.vocabSize());
        TrainingData.Window window = toyData(o.seqLen(), 1.0).sampleWindow(new SplittableRandom(2));
        float[][] grads = new float[2][];
        float[] losses = new float[2];
        float[] weights = {1f, 9f};
        for (int i = 0; i < 2; i++) {
            try (NDManager manager = NDManager.newBaseManager();
                    LlamaParameters p = LlamaParameters.initialize(config, 5, manager)) {
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    losses[i] = LlamaTrainer.windowLoss(config, p, window.tokens(), window.answerTargets(), weights[i],
                            gc, 1f, manager);
                }
                grads[i] = p.parameters().get(0).array().getGradient().toFloatArray();
            }
        }
        assertEquals(losses[0], losses[1], 1e-6, "the reported loss is the plain mean");
        double diff = 0;
        for (int j = 0; j < grads[0].length; j++) {
            diff += Math.abs(grads[0][j] - grads[1][j]);
        }
        assertThat(diff).as("weighted answers change the gradient").isGreaterThan(1e-4);
        assertThatThrownBy(() -> options("--answer-weight", "0.5")).hasMessageContaining("--answer-weight must be at least 1");
    }

    @Test
    void scheduleWarmsUpThenDecays() {
        LearningRateSchedule s = new LearningRateSchedule(1e-3, 0.1, 10, 110);
        assertEquals(1e-4, s.at(1, 0), 1e-12);
        assertEquals(1e-3, s.at(10, 0), 1e-12);
        assertEquals(0.55e-3, s.at(60, 0.5), 1e-9);
        assertEquals(1e-4, s.at(110, 1), 1e-12);
        assertEquals(1e-4, s.at(200, 1.5), 1e-12);
        assertEquals(s.at(56, 0.5), s.at(56), 1e-12);
    }

    @Test
    void passKeyAnswersNeedTheExactDigits() {
        assertThat(Evaluation.isCorrect(" 48213.", 48213)).isTrue();
        assertThat(Evaluation.isCorrect(" 48213", 48213)).isTrue();
        assertThat(Evaluation.isCorrect(" 482134", 48213)).isFalse();
        assertThat(Evaluation.isCorrect(" 48212.", 48213)).isFalse();
        assertThat(Evaluation.isCorrect("48213.", 48213)).isFalse();
    }

    /**
     * Garbage collections running while a step's graph is alive change nothing: the forward pass keeps
     * its scalars (attention scale, RMSNorm eps) as model-lifetime tensors, so a collection cannot free
     * memory that autograd still reads, and the trainer needs no collections of its own between steps.
     */
    @Test
    void collectionsDuringStepsChangeNothing() throws Exception {
        TrainingOptions o = options();
        LlamaConfig config = o.modelConfig(tokenizer.vocabSize());
        List<String> quiet = trainSteps(o, config, 12);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger collections = new AtomicInteger();
        Thread collector = new Thread(() -> {
            while (!stop.get()) {
                System.gc();
                collections.incrementAndGet();
                LockSupport.parkNanos(1_000_000);
            }
        });
        collector.start();
        List<String> collected;
        try {
            collected = trainSteps(o, config, 12);
        } finally {
            stop.set(true);
            collector.join();
        }
        assertThat(collections.get()).isGreaterThan(12);
        assertThat(collected).isEqualTo(quiet);
    }

    private static List<String> trainSteps(TrainingOptions o, LlamaConfig config, int steps) {
        List<String> losses = new ArrayList<>();
        try (LlamaTrainer trainer = new LlamaTrainer(o, config, toyData(o.seqLen(), 0.25))) {
            for (int i = 0; i < steps; i++) {
                LlamaTrainer.StepStats st = trainer.trainStep();
                losses.add(st.loss() + "/" + st.gradNorm());
            }
        }
        return losses;
    }
}
