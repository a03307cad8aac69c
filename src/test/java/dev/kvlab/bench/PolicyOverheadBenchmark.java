package dev.kvlab.bench;

import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Prints the decode cost per step of every policy against {@code full} at the same stored size, on
 * the tiny Llama fixture (or a model folder given as the first argument). A harness, not a test:
 * figures depend on the machine and its load. The bounded policies hold exactly {@code stored}
 * slots and compact one slot per step; {@code full} grows from {@code stored − steps/2} to
 * {@code stored + steps/2}, so it averages the same size.
 *
 * <pre>{@code java -cp target/test-classes:target/classes:<deps> dev.kvlab.bench.PolicyOverheadBenchmark}</pre>
 */
public final class PolicyOverheadBenchmark {
    private static final int STEPS = 200;
    private static final int REPEATS = 3;

    private PolicyOverheadBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path dir = args.length > 0 ? Path.of(args[0])
                : TinyModels.llama().writeTo(Files.createTempDirectory("kvlab-bench")).dir();
        int[] sizes = args.length > 1 ? Arrays.stream(args[1].split(",")).mapToInt(Integer::parseInt).toArray()
                : new int[] {128, 512};
        try (TransformerModel model = ModelLoader.load(dir, new ModelLoader.Options(args.length > 2 ? args[2] : "cpu", null))) {
            System.out.printf("model %s, %d layers, %d KV heads; ms per decode step (best of %d runs of %d steps)%n",
                    dir.getFileName(), model.config().numLayers(), model.config().numKvHeads(), REPEATS, STEPS);
            for (int stored : sizes) {
                List<Map<String, Object>> all = List.of(
                        Map.of("policy", "full"),
                        Map.of("policy", "streaming", "budget", stored),
                        Map.of("policy", "streaming", "budget", stored, "rope", "original"),
                        Map.of("policy", "h2o", "budget", stored),
                        Map.of("policy", "tova", "budget", stored),
                        Map.of("policy", "entropy-merge", "budget", stored),
                        Map.of("policy", "entropy-merge", "budget", stored, "priority", "attention"),
                        Map.of("policy", "random", "budget", stored));
                double[] best = new double[all.size()];
                Arrays.fill(best, Double.MAX_VALUE);
                for (int r = 0; r < REPEATS; r++) { // interleaved, so a change in machine load hits every policy alike
                    for (int i = 0; i < all.size(); i++) {
                        best[i] = Math.min(best[i], msPerStep(model, all.get(i), stored, STEPS));
                    }
                }
                for (int i = 0; i < all.size(); i++) {
                    Map<String, Object> spec = all.get(i);
                    String label = spec.get("policy") + (spec.containsKey("priority") ? " (attention)" : "")
                            + (spec.containsKey("rope") ? " (rope original)" : "");
                    System.out.printf("stored %5d   %-26s %7.3f ms  (%+.3f ms, %+.0f%%)%n", stored, label, best[i],
                            best[i] - best[0], 100 * (best[i] - best[0]) / best[0]);
                }
            }
        }
    }

    /**
     * Mean ms per decode step over {@code steps} steps: a bounded policy at exactly {@code stored} slots
     * (compacting one per step), {@code full} growing through {@code stored − steps/2 … stored + steps/2}.
     */
    public static double msPerStep(TransformerModel model, Map<String, Object> spec, int stored, int steps) {
        CachePolicy policy = PolicyRegistry.create(spec, model.config().architecture());
        int prompt = policy.hasFixedBudget() ? stored + 64 : stored - steps / 2;
        int[] tokens = new Random(1).ints(prompt + steps + 10, 0, model.config().vocabSize()).toArray();
        try (KvCache cache = model.newCache(policy, 64)) {
            for (int from = 0; from < prompt; from += 64) {
                forward(model, cache, Arrays.copyOfRange(tokens, from, Math.min(prompt, from + 64)));
            }
            for (int i = 0; i < 10; i++) { // warm-up at the measured size
                forward(model, cache, new int[] {tokens[prompt + i]});
            }
            long start = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                forward(model, cache, new int[] {tokens[prompt + 10 + i]});
            }
            return (System.nanoTime() - start) / 1e6 / steps;
        }
    }

    private static void forward(TransformerModel model, KvCache cache, int[] tokens) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            model.forward(tokens, cache, false).toFloatArray();
        }
    }
}
