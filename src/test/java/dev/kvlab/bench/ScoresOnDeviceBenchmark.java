package dev.kvlab.bench;

import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.model.ForwardPass;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.SequenceInput;
import dev.kvlab.model.TransformerModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A batch of B sequences decoding under {@code h2o} with {@code compact_every} E, in one forward pass
 * a step, with the summed scores added on the host (the CPU default) and on the device (the GPU
 * default, {@code KvCache.scoresOnDevice}), alternating. Prints the best milliseconds per step of
 * each over {@code --repeats} runs of {@code --steps} steps after a 300-token prompt, and the native
 * arrays a step creates. A harness, not a test.
 *
 * <pre>
 * ./mvnw -q -Pbench -Dbench.main=dev.kvlab.bench.ScoresOnDeviceBenchmark \
 *     -Dbench.args="models/kvlab-tiny --batches 1,8 --every 1,4,16 --budget 256"
 * </pre>
 */
public final class ScoresOnDeviceBenchmark {

    private ScoresOnDeviceBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "models/kvlab-tiny");
        int[] batches = {1, 8};
        int[] every = {1, 4, 16};
        int budget = 256;
        int steps = 64;
        int repeats = 5;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--batches" -> batches = ints(args[++i]);
                case "--every" -> every = ints(args[++i]);
                case "--budget" -> budget = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        try (TransformerModel model = ModelLoader.load(dir, new ModelLoader.Options("auto", null))) {
            System.out.printf("device %s, h2o budget %d, %d steps, best of %d%n", model.device(), budget, steps,
                    repeats);
            System.out.println("| batch | compact_every | host ms/step | device ms/step | host arrays | device arrays |");
            System.out.println("|---:|---:|---:|---:|---:|---:|");
            for (int b : batches) {
                for (int e : every) {
                    Map<String, Object> kv = Map.of("policy", "h2o", "budget", budget, "compact_every", e);
                    double[] best = {Double.MAX_VALUE, Double.MAX_VALUE};
                    int[] arrays = new int[2];
                    for (int r = 0; r <= repeats; r++) {
                        for (int mode = 0; mode < 2; mode++) {
                            double ms = run(model, kv, b, steps, mode == 1, arrays, mode);
                            if (r > 0) { // the first round warms up
                                best[mode] = Math.min(best[mode], ms);
                            }
                        }
                    }
                    System.out.printf(Locale.ROOT, "| %d | %d | %.2f | %.2f | %d | %d |%n", b, e, best[0], best[1],
                            arrays[0], arrays[1]);
                }
            }
        }
    }

    /** Milliseconds per decode step of B sequences; the arrays one step creates go to {@code arrays[slot]}. */
    private static double run(TransformerModel model, Map<String, Object> kv, int batch, int steps,
            boolean scoresOnDevice, int[] arrays, int slot) {
        int[] prompt = new int[300];
        Arrays.setAll(prompt, i -> 1 + (i * 37) % 500);
        List<KvCache> caches = new ArrayList<>();
        try {
            List<SequenceInput> inputs = new ArrayList<>();
            for (int i = 0; i < batch; i++) {
                KvCache cache = new KvCache(model.kvSpec(), PolicyRegistry.create(kv),
                        ai.djl.ndarray.NDManager.newBaseManager(model.device()), 512, scoresOnDevice);
                caches.add(cache);
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    model.forward(prompt, cache, false);
                }
                inputs.add(new SequenceInput(cache, new int[] {prompt[i]}, false));
            }
            long start = System.nanoTime();
            for (int step = 0; step < steps; step++) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    ForwardPass pass = model.forward(inputs);
                    pass.commitAll();
                    pass.logits().toFloatArray();
                }
            }
            double ms = (System.nanoTime() - start) / 1e6 / steps;
            arrays[slot] = StepArrays.created(() -> model.forward(inputs).commitAll());
            return ms;
        } finally {
            caches.forEach(KvCache::close);
        }
    }

    private static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
    }
}
