package dev.kvlab.bench;

import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.model.gpt2.Gpt2Config;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Prints prefill and decode tokens/s of the forward pass with a full cache: a harness, not a test,
 * because the figures depend on the machine and its load. By default it runs the largest test
 * fixture (a random Llama shaped like the shipped model: hidden 256, 6 layers, 8 heads, 2 KV heads);
 * give a model folder as the first argument to measure another model.
 *
 * <pre>{@code ./mvnw -q -Pbench -Dbench.args="[modelDir] [device]"}</pre>
 */
public final class GenerationBenchmark {
    private static final int[] CONTEXTS = {128, 512, 1024};
    private static final int DECODE_STEPS = 64;
    private static final int REPEATS = 3;

    private GenerationBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path dir = args.length > 0 && !args[0].isBlank() ? Path.of(args[0]) : largestFixture();
        String device = args.length > 1 ? args[1] : "cpu";
        try (TransformerModel model = ModelLoader.load(dir, new ModelLoader.Options(device, null))) {
            System.out.printf("model %s: %,d parameters, %d layers, dtype %s, device %s, %d threads%n",
                    dir.getFileName(), model.parameterCount(), model.config().numLayers(), model.dtype(),
                    model.device(), Runtime.getRuntime().availableProcessors());
            int vocab = model.config().vocabSize();
            Random random = new Random(1);
            System.out.println("context  prefill tok/s  decode tok/s  (best of " + REPEATS + ", "
                    + DECODE_STEPS + " decode steps)");
            for (int context : CONTEXTS) {
                if (model.config() instanceof Gpt2Config && context + DECODE_STEPS > model.config().maxPositions()) {
                    continue; // learned positions end there
                }
                int[] prompt = random.ints(context, 0, vocab).toArray();
                double bestPrefill = 0;
                double bestDecode = 0;
                for (int r = 0; r < REPEATS + 1; r++) { // the first run warms up and is not counted
                    double[] rates = run(model, prompt, random.nextInt(vocab));
                    if (r > 0) {
                        bestPrefill = Math.max(bestPrefill, rates[0]);
                        bestDecode = Math.max(bestDecode, rates[1]);
                    }
                }
                System.out.printf("%7d  %13.0f  %12.1f%n", context, bestPrefill, bestDecode);
            }
        }
    }

    /** Prefill the prompt in one chunk, then decode greedily; returns {prefill tok/s, decode tok/s}. */
    private static double[] run(TransformerModel model, int[] prompt, int firstToken) {
        try (KvCache cache = model.newCache(new FullPolicy(), prompt.length)) {
            long t0 = System.nanoTime();
            step(model, cache, prompt);
            long t1 = System.nanoTime();
            int token = firstToken;
            for (int i = 0; i < DECODE_STEPS; i++) {
                token = argmax(step(model, cache, new int[] {token}));
            }
            long t2 = System.nanoTime();
            return new double[] {prompt.length / ((t1 - t0) / 1e9), DECODE_STEPS / ((t2 - t1) / 1e9)};
        }
    }

    /** One forward pass in its own scope, as the generator runs it; returns the last position's logits. */
    static float[] step(TransformerModel model, KvCache cache, int[] tokens) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            return model.forward(tokens, cache, false).toFloatArray();
        }
    }

    static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    private static Path largestFixture() throws Exception {
        Path dir = Files.createTempDirectory("kvlab-bench");
        return TinyModels.llama().hidden(256).layers(6).heads(8).kvHeads(2).intermediate(704).maxPositions(2048)
                .writeTo(dir.resolve("llama-bench")).dir();
    }
}
