package dev.kvlab.training.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.data.PassKeyDocuments;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.model.llama.LlamaModel;
import dev.kvlab.model.weights.SafetensorsWriter;
import dev.kvlab.tokenizer.TextTokenizer;
import dev.kvlab.training.corpus.Corpus;
import dev.kvlab.training.corpus.Document;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Trains the Llama model {@code models/kvlab-tiny} on two CPU cores, through the same {@link
 * LlamaModel} forward pass the server runs for inference (the KV cache included: PyTorch autograd
 * differentiates through its in-place buffer writes), so there is no second implementation that
 * could disagree with what is served.
 *
 * <p>Recipe: next-token cross-entropy on windows of {@code seqLen} tokens from {@link TrainingData}
 * (corpus text plus pass-key documents), batch 1 with gradients accumulated over {@code accum}
 * windows, AdamW with decay on matrices only, linear warm-up then cosine decay, global-norm
 * gradient clipping. A progress line every {@code logEvery} steps; a checkpoint (weights in
 * Hugging Face layout, AdamW moments, step) every few minutes, from which {@code --resume}
 * continues the same run; at the end the model folder, held-out perplexity, pass-key accuracy and
 * a model card.
 *
 * <pre>
 * ./mvnw -q -Ptrain -Dtrain.args="--steps 700 --seq-len 1024 --accum 4"
 * </pre>
 */
public final class LlamaTrainer implements AutoCloseable {
    private final TrainingOptions options;
    private final LlamaConfig config;
    private final TrainingData data;
    private final NDManager manager;
    private final LlamaParameters parameters;
    private final AdamW optimizer;
    private final LearningRateSchedule schedule;
    private int step;
    private long tokensSeen;
    private double previousSeconds;
    private Function<LlamaTrainer, String> probe;

    /** Statistics of one optimizer step. */
    public record StepStats(int step, double loss, double lr, float gradNorm, int tokens) {}

    /** A trainer with freshly initialized weights. */
    public LlamaTrainer(TrainingOptions options, LlamaConfig config, TrainingData data) {
        this(options, config, data, null);
    }

    /** A trainer starting from {@code weights} (a loaded checkpoint), or from random weights when null. */
    LlamaTrainer(TrainingOptions options, LlamaConfig config, TrainingData data, LlamaModel weights) {
        this.options = options;
        this.config = config;
        this.data = data;
        this.manager = NDManager.newBaseManager(ModelLoader.resolveDevice("cpu"));
        Engine.getInstance();
        JniUtils.setGradMode(false); // grad mode is per thread: record only inside the collector
        this.parameters = weights == null
                ? LlamaParameters.initialize(config, options.seed(), manager)
                : LlamaParameters.copyOf(config, weights.weights(), manager);
        this.optimizer = new AdamW(parameters.parameters(), (float) options.beta1(), (float) options.beta2(), 1e-8f,
                (float) options.weightDecay(), manager);
        this.schedule = new LearningRateSchedule(options.lr(), options.minLrRatio(), options.warmup(), options.steps());
    }

    public LlamaParameters parameters() {
        return parameters;
    }

    public LlamaConfig config() {
        return config;
    }

    /** Optimizer steps completed. */
    public int step() {
        return step;
    }

    /** One optimizer step of a step-limited run. */
    public StepStats trainStep() {
        return trainStep((double) step / options.steps());
    }

    /**
     * One optimizer step: {@code accum} windows forward and backward (each window's loss weighted by
     * its share of the step's tokens), global-norm clipping, AdamW.
     *
     * @param progress fraction of the training budget done before this step, for the learning-rate schedule
     */
    public StepStats trainStep(double progress) {
        int next = step + 1;
        SplittableRandom random = new SplittableRandom(options.seed() * 0x9E3779B97F4A7C15L + next);
        TrainingData.Window[] windows = new TrainingData.Window[options.accum()];
        int tokens = 0;
        for (int s = 0; s < windows.length; s++) {
            windows[s] = data.sampleWindow(random);
            tokens += windows[s].tokens().length - 1;
        }
        double loss = 0;
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            for (TrainingData.Window window : windows) {
                float share = (float) (window.tokens().length - 1) / tokens;
                loss += share * windowLoss(config, parameters, window.tokens(), window.answerTargets(),
                        (float) options.answerWeight(), collector, share, manager);
            }
        }
        float norm = AdamW.gradientNorm(parameters.parameters());
        if (!Float.isFinite(norm)) {
            throw new IllegalStateException("gradient norm " + norm + " at step " + next + " (loss " + loss
                    + "): training diverged; " + nonFinite());
        }
        float scale = options.clip() > 0 && norm > options.clip() ? (float) (options.clip() / norm) : 1f;
        double lr = schedule.at(next, progress);
        optimizer.step(parameters.parameters(), (float) lr, scale);
        step = next;
        tokensSeen += tokens;
        return new StepStats(next, loss, lr, norm, tokens);
    }

    /** Names the parameters whose weights or gradients hold NaN or infinity. */
    private String nonFinite() {
        StringBuilder s = new StringBuilder("non-finite:");
        for (LlamaParameters.Parameter p : parameters.parameters()) {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                if (!p.array().isInfinite().logicalOr(p.array().isNaN()).none().getBoolean()) {
                    s.append(' ').append(p.name()).append(" (weights)");
                }
                NDArray g = p.array().getGradient();
                if (!g.isInfinite().logicalOr(g.isNaN()).none().getBoolean()) {
                    s.append(' ').append(p.name()).append(" (gradient)");
                }
                float max = g.abs().max().getFloat();
                if (max > 1e6) {
                    s.append(' ').append(p.name()).append(" (gradient up to ").append(max).append(')');
                }
            }
        }
        return s.toString();
    }

    /**
     * Mean next-token cross-entropy of one window through the inference forward pass, and, when a
     * collector is given, its gradient times {@code gradScale} added to the parameters' gradients.
     *
     * @param window {@code seqLen + 1} tokens: inputs are all but the last, targets all but the first
     */
    static float windowLoss(LlamaConfig config, LlamaParameters parameters, int[] window, GradientCollector collector,
            float gradScale, NDManager manager) {
        return windowLoss(config, parameters, window, new int[0], 1f, collector, gradScale, manager);
    }

    /**
     * {@link #windowLoss} where the targets at {@code answerTargets} (pass-key answers) count
     * {@code answerWeight} times in the gradient. Retrieval is learned from a handful of answer tokens
     * per thousand; weighting them strengthens that signal without changing the documents. The
     * returned loss is the plain mean, comparable across runs.
     */
    static float windowLoss(LlamaConfig config, LlamaParameters parameters, int[] window, int[] answerTargets,
            float answerWeight, GradientCollector collector, float gradScale, NDManager manager) {
        int seqLen = window.length - 1;
        int[] inputs = Arrays.copyOfRange(window, 0, seqLen);
        int[] targets = Arrays.copyOfRange(window, 1, seqLen + 1);
        try (NDManager stepManager = manager.newSubManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            LlamaModel model = new LlamaModel(config, parameters.forwardWeights(), stepManager, DataType.FLOAT32);
            try (KvCache cache = model.newCache(new FullPolicy(), seqLen)) {
                NDArray nll = Evaluation.tokenNll(model.forward(inputs, cache, true), targets);
                NDArray loss = nll.mean();
                if (collector != null) {
                    NDArray objective = loss;
                    if (answerWeight != 1f && answerTargets.length > 0) {
                        float[] weights = new float[seqLen];
                        Arrays.fill(weights, 1f);
                        for (int t : answerTargets) {
                            weights[t] = answerWeight;
                        }
                        objective = nll.mul(stepManager.create(weights)).mean();
                    }
                    // not loss.mul(float): DJL wraps the scalar in a Java buffer and closes it at once, while
                    // autograd keeps it for backward; this tensor stays referenced until the step ends
                    NDArray scale = stepManager.create(gradScale);
                    collector.backward(objective.mul(scale));
                }
                return loss.getFloat();
            }
        }
    }

    /**
     * Trains until {@code options.steps()} or, when {@code options.minutes()} is set, until that much
     * training time has passed (whichever comes first; the schedule follows the nearer of the two),
     * logging progress and checkpointing into {@code checkpoints} (null: no checkpoints).
     */
    public void train(Consumer<String> log, Checkpoints checkpoints) throws IOException {
        long start = System.nanoTime();
        long lastLog = start;
        long lastCheckpoint = start;
        double budget = options.minutes() * 60;
        double lossSum = 0;
        int lossCount = 0;
        long tokensSinceLog = 0;
        while (progress(start) < 1) {
            StepStats stats = trainStep(progress(start));
            lossSum += stats.loss();
            lossCount++;
            tokensSinceLog += stats.tokens();
            long now = System.nanoTime();
            boolean done = progress(start) >= 1;
            if (step % options.logEvery() == 0 || done) {
                double seconds = (now - lastLog) / 1e9;
                double elapsed = previousSeconds + (now - start) / 1e9;
                double p = progress(start);
                double eta = p <= 0 ? 0 : elapsed / p * (1 - p); // approximate after a resume
                log.accept(String.format(Locale.ROOT,
                        "step %5d%s | loss %.4f | lr %.2e | grad %.2f | %,.0f tok/s | %,d tokens | elapsed %s | eta %s",
                        step, budget > 0 ? "" : "/" + options.steps(), lossSum / lossCount, stats.lr(),
                        stats.gradNorm(), tokensSinceLog / seconds, tokensSeen, clock(elapsed), clock(eta)));
                lossSum = 0;
                lossCount = 0;
                tokensSinceLog = 0;
                lastLog = now;
            }
            boolean byTime = options.checkpointMinutes() > 0 && (now - lastCheckpoint) / 60e9 >= options.checkpointMinutes();
            boolean bySteps = options.checkpointEvery() > 0 && step % options.checkpointEvery() == 0;
            if (checkpoints != null && (byTime || bySteps) && !done) {
                checkpoints.save(this, previousSeconds + (now - start) / 1e9);
                log.accept("checkpoint at step " + step + " -> " + checkpoints.dir());
                if (probe != null) {
                    log.accept(probe.apply(this));
                }
                lastCheckpoint = System.nanoTime();
            }
        }
        previousSeconds += (System.nanoTime() - start) / 1e9;
    }

    /** Fraction of the budget done: steps, or training time when limited by minutes. */
    private double progress(long sessionStart) {
        double p = (double) step / options.steps();
        if (options.minutes() > 0) {
            double seconds = previousSeconds + (System.nanoTime() - sessionStart) / 1e9;
            p = Math.max(p, seconds / (options.minutes() * 60));
        }
        return p;
    }

    /** A quick evaluation logged after each checkpoint, so a long run can be judged while it runs. */
    public void setProbe(Function<LlamaTrainer, String> probe) {
        this.probe = probe;
    }

    /** Seconds spent training, summed over every run this checkpoint line was resumed from. */
    public double trainingSeconds() {
        return previousSeconds;
    }

    public long tokensSeen() {
        return tokensSeen;
    }

    /**
     * The current weights as an inference model; its own manager holds only RoPE tables, the weights
     * stay the trainer's (do not use it after closing the trainer).
     */
    public LlamaModel inferenceModel() {
        return new LlamaModel(config, parameters.forwardWeights(), manager.newSubManager(), DataType.FLOAT32);
    }

    /** Writes the Hugging Face model folder. */
    public void saveModel(Path dir, Path tokenizerJson, int bosId, int eosId, SafetensorsWriter.Dtype dtype)
            throws IOException {
        HfModelFiles.write(dir, parameters, tokenizerJson, bosId, eosId, dtype);
    }

    /** Saves optimizer moments (the weights go through {@link #saveModel}). */
    void saveOptimizer(Path file) {
        optimizer.save(file);
    }

    /** Restores the rest of a checkpoint's state (the weights came through the constructor). */
    void restore(Path optimizerFile, int step, long tokens, double seconds) {
        optimizer.load(optimizerFile, step);
        this.step = step;
        this.tokensSeen = tokens;
        this.previousSeconds = seconds;
    }

    @Override
    public void close() {
        manager.close();
    }

    static String clock(double seconds) {
        Duration d = Duration.ofSeconds(Math.round(seconds));
        return String.format(Locale.ROOT, "%02d:%02d:%02d", d.toHours(), d.toMinutesPart(), d.toSecondsPart());
    }

    /** Command line: see {@link TrainingOptions#usage()}. */
    public static void main(String[] args) throws Exception {
        TrainingOptions options = TrainingOptions.parse(args);
        TrainingRun.run(options, String.join(" ", args), System.out::println);
    }

    /** Encodes each document on its own (so no token spans two documents). */
    static List<int[]> encodeAll(TextTokenizer tokenizer, List<Document> docs) {
        List<int[]> out = new ArrayList<>(docs.size());
        for (Document d : docs) {
            out.add(tokenizer.encode(d.text()));
        }
        return out;
    }

    /** Loads a model folder on the CPU in f32 (for evaluation and resume). */
    static TransformerModel load(Path dir) {
        return ModelLoader.load(dir, new ModelLoader.Options("cpu", DataType.FLOAT32));
    }

    static PassKeyDocuments passKeys(String text, TextTokenizer tokenizer) {
        return new PassKeyDocuments(PassKeyDocuments.sentences(text), s -> tokenizer.encode(s).length);
    }

    static String heldOutText(TrainingOptions options) throws IOException {
        Path resource = Corpus.HELD_OUT_RESOURCE;
        if (Files.isRegularFile(resource)) {
            return Files.readString(resource);
        }
        return Corpus.fetch(options.corpusCache()).heldOutText();
    }
}
