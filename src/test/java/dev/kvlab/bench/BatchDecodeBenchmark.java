package dev.kvlab.bench;

import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.Generator;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.model.AbstractDecoder;
import dev.kvlab.model.ForwardPass;
import dev.kvlab.model.SequenceInput;
import dev.kvlab.model.IntraOpThreads;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.tokenizer.TextTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The engine's batched decode without HTTP: B identical requests generated as one batch on this
 * thread (every step one forward pass over all B), for B in {@code --batches}, per policy, with 1 or 2
 * intra-op threads for decode steps. Prints the step time and the aggregate decode tokens/s (every
 * token after each sequence's first, over the wall time from the first decode step to the end). A
 * harness, not a test.
 *
 * <pre>
 * ./mvnw -q -Pbench -Dbench.main=dev.kvlab.bench.BatchDecodeBenchmark \
 *     -Dbench.args="models/kvlab-tiny --batches 1,2,4,8,16 --new 128 --threads 1,2 --policies full,h2o [--stagger 2]"
 * </pre>
 */
public final class BatchDecodeBenchmark {

    private BatchDecodeBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "models/kvlab-tiny");
        int[] batches = {1, 2, 4, 8, 16};
        int newTokens = 128;
        int[] threads = {1};
        List<String> policies = List.of("full");
        int repeats = 3;
        int stagger = 0;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--batches" -> batches = ints(args[++i]);
                case "--new" -> newTokens = Integer.parseInt(args[++i]);
                case "--threads" -> threads = ints(args[++i]);
                case "--policies" -> policies = List.of(args[++i].split(","));
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                case "--stagger" -> stagger = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        ModelFolder folder = ModelFolder.open(dir);
        try (TransformerModel model = ModelLoader.load(dir, new ModelLoader.Options("cpu", null, 1));
                TextTokenizer tokenizer = TextTokenizer.load(folder.tokenizerFile())) {
            Generator generator = new Generator(model, tokenizer, folder.eosTokenIds(), folder.promptBosTokenId(), 512);
            int[] prompt = generator.promptTokens("It is a truth universally acknowledged, that a single man in"
                    + " possession of a good fortune, must be in want of a wife.");
            System.out.printf(Locale.ROOT, "model %s, prompt %d tokens, %d new tokens, best of %d, load %s%n",
                    dir, prompt.length, newTokens, repeats, PerformanceBenchmark.loadAverage());
            rawForward(model, prompt, batches, threads, stagger);
            System.out.println("| policy | decode threads | batch | ms/step | aggregate tok/s | per sequence tok/s |");
            System.out.println("|---|---:|---:|---:|---:|---:|");
            for (String policy : policies) {
                for (int t : threads) {
                    ((AbstractDecoder) model).setThreads(new IntraOpThreads(IntraOpThreads.forCpu(1).prefill(), t));
                    for (int b : batches) {
                        run(generator, prompt, newTokens, policy, t, b, 1); // warm-up
                        double best = 0;
                        double perSequence = 0;
                        for (int r = 0; r < repeats; r++) {
                            double[] rates = run(generator, prompt, newTokens, policy, t, b, r);
                            if (rates[0] > best) {
                                best = rates[0];
                                perSequence = rates[1];
                            }
                        }
                        System.out.printf(Locale.ROOT, "| %s | %d | %d | %.2f | %.0f | %.0f |%n", policy, t, b,
                                1000.0 * b / best, best, perSequence);
                    }
                }
            }
        }
    }

    /**
     * The batched forward pass alone (no sampling, no detokenizing): B full caches prefilled with the
     * prompt, then 64 decode steps of one pass each; best of 3, ms per step. With {@code stagger} N,
     * sequence i's prompt is {@code i·N} tokens shorter (at most half the prompt), so the group's
     * members differ in length and attention masks their padding, as in serving.
     */
    private static void rawForward(TransformerModel model, int[] prompt, int[] batches, int[] threads,
            int stagger) {
        System.out.println("| forward pass only: decode threads | batch | ms/step | tok/s | native arrays per step |");
        System.out.println("|---:|---:|---:|---:|---:|");
        for (int t : threads) {
            ((AbstractDecoder) model).setThreads(new IntraOpThreads(IntraOpThreads.forCpu(1).prefill(), t));
            for (int b : batches) {
                double best = Double.MAX_VALUE;
                int arrays = 0;
                for (int r = 0; r < 4; r++) {
                    List<KvCache> caches = new ArrayList<>();
                    try {
                        List<SequenceInput> inputs = new ArrayList<>();
                        for (int i = 0; i < b; i++) {
                            KvCache cache = model.newCache(new FullPolicy(), 512);
                            caches.add(cache);
                            try (NDScope scope = new NDScope()) {
                                scope.suppressNotUsedWarning();
                                int cut = stagger == 0 ? 0 : (i * stagger) % (prompt.length / 2);
                                model.forward(Arrays.copyOf(prompt, prompt.length - cut), cache, false);
                            }
                            inputs.add(new SequenceInput(cache, new int[] {prompt[i % prompt.length]}, false));
                        }
                        long start = System.nanoTime();
                        for (int step = 0; step < 64; step++) {
                            try (NDScope scope = new NDScope()) {
                                scope.suppressNotUsedWarning();
                                ForwardPass pass = model.forward(inputs);
                                pass.commitAll();
                                pass.logits().toFloatArray();
                            }
                        }
                        double ms = (System.nanoTime() - start) / 1e6 / 64;
                        arrays = StepArrays.created(() -> model.forward(inputs).commitAll());
                        if (r > 0) {
                            best = Math.min(best, ms);
                        }
                    } finally {
                        caches.forEach(KvCache::close);
                    }
                }
                System.out.printf(Locale.ROOT, "| %d | %d | %.2f | %.0f | %d |%n", t, b, best, 1000.0 * b / best,
                        arrays);
            }
        }
    }

    /** {aggregate decode tok/s, mean per-sequence decode tok/s}. */
    private static double[] run(Generator generator, int[] prompt, int newTokens, String policy, int threads,
            int batch, int seed) {
        List<GenerationRequest> requests = new ArrayList<>();
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            Map<String, Object> kv = policy.equals("full") ? Map.of("policy", "full")
                    : Map.of("policy", policy, "budget", 64);
            requests.add(new GenerationRequest("", newTokens, new SamplingParams(0.8, 0, 1.0, seed * 100L + i),
                    List.of(), PolicyRegistry.create(kv), true));
            prompts.add(prompt);
        }
        List<GenerationResult> results = generator.generateAll(requests, prompts, 512 + batch);
        double decodeSeconds = 0;
        double perSequence = 0;
        long tokens = 0;
        for (GenerationResult r : results) {
            decodeSeconds = Math.max(decodeSeconds, r.timings().decodeNanos() / 1e9);
            perSequence += r.timings().tokensPerSecond() / batch;
            tokens += r.timings().decodedTokens();
        }
        return new double[] {tokens / decodeSeconds, perSequence};
    }

    private static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
    }
}
