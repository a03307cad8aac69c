package dev.kvlab.bench;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.model.AbstractDecoder;
import dev.kvlab.model.ModelConfig;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.model.llama.LlamaModel;
import dev.kvlab.model.llama.LlamaWeights;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Where decode speed stands against what this machine can do (issue #8): measured matmul GFLOP/s
 * and copy GB/s give a compute-bound and a memory-bound ceiling per context; then prefill and decode
 * tokens/s of every policy at each context, the time each policy spends in its own work per step,
 * its overhead over {@code full} at the same stored size, and the KV bytes it holds. A harness, not a
 * test: the figures depend on the machine and its load, which it prints.
 *
 * <pre>{@code ./mvnw -q -Pbench -Dbench.main=dev.kvlab.bench.PerformanceBenchmark -Dbench.args="[modelDir] [steps] [contexts] [decode-only]"}</pre>
 */
public final class PerformanceBenchmark {
    private static final int BUDGET = 256;
    private static final int PREFILL_CHUNK = 512;
    private static final int REPEATS = 5;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    /**
     * "name" is the policy at its defaults; "name/N" the same with {@code compact_every} N; "name/int8" or
     * "name/int4" stored quantized. A fifth argument replaces the list (comma-separated labels).
     */
    private static List<String> POLICIES = List.of("full", "streaming", "h2o", "tova", "entropy-merge", "random",
            "h2o/16", "entropy-merge/16");

    private PerformanceBenchmark() {}

    /** One policy at one context: rates, where the time went, and what the cache held. */
    record Run(double prefillPerSec, double decodePerSec, double cpuMs, double policyMs, int arraysPerStep, int stored, long kvBytes) {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 && !args[0].isBlank() ? args[0] : "models/kvlab-tiny");
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        int[] contexts = args.length > 2 ? Arrays.stream(args[2].split(",")).mapToInt(Integer::parseInt).toArray()
                : new int[] {128, 512, 1024, 4096};
        boolean decodeOnly = args.length > 3 && args[3].equals("decode-only"); // for quick before/after comparisons
        if (args.length > 4) {
            POLICIES = List.of(args[4].split(","));
        }
        try (TransformerModel model = ModelLoader.load(dir, new ModelLoader.Options("cpu", null))) {
            ModelConfig c = model.config();
            System.out.printf("model %s: %,d parameters, %d layers, hidden %d, %d heads / %d KV heads × %d, dtype %s,"
                    + " trained context %d; %d CPUs, PyTorch intra-op threads %d for prefill, %d for decode"
                    + " (kvlab.cpu.decode-threads); load average %s%n", dir.getFileName(),
                    model.parameterCount(), c.numLayers(), c.hiddenSize(), c.numHeads(), c.numKvHeads(), c.headDim(),
                    model.dtype(), c.maxPositions(), Runtime.getRuntime().availableProcessors(),
                    ((AbstractDecoder) model).threads().prefill(), ((AbstractDecoder) model).threads().decode(),
                    loadAverage());

            Roofline roof = decodeOnly ? null : Roofline.measure(model);
            if (roof != null) {
                roof.print();
            }

            decodeAll(model, POLICIES, PREFILL_CHUNK, 16); // warm-up: JIT (every policy's own code too) and allocator
            Run[][] runs = new Run[contexts.length][];
            for (int i = 0; i < contexts.length; i++) {
                runs[i] = decodeAll(model, POLICIES, contexts[i], steps);
            }
            printDecode(model, contexts, runs, steps);
            if (!decodeOnly) {
                printRoofline(model, roof, contexts, runs);
                printOverhead(model, steps);
            }
            System.out.printf("%nload average at the end: %s%n", loadAverage());
        }
    }

    /** The request's kv_cache object for a policy at the harness budget, with every other parameter at its default. */
    static Map<String, Object> spec(String label) {
        String[] parts = label.split("/");
        Map<String, Object> spec = new java.util.LinkedHashMap<>();
        spec.put("policy", parts[0]);
        if (!parts[0].equals("full")) {
            spec.put("budget", BUDGET);
        }
        for (int i = 1; i < parts.length; i++) {
            spec.put(parts[i].startsWith("int") ? "quantization" : "compact_every",
                    parts[i].startsWith("int") ? parts[i] : (Object) Integer.parseInt(parts[i]));
        }
        return spec;
    }

    /**
     * Prefills {@code context} random tokens in chunks (as the generator does) into one cache per
     * policy, then times {@link #REPEATS} rounds in which every policy runs a block of {@code steps}
     * decode steps in turn; each policy's best block counts. Round-robin, so a slow spell of this
     * shared machine hits every policy alike instead of whichever ran during it.
     */
    static Run[] decodeAll(TransformerModel model, List<String> names, int context, int steps) {
        int n = names.size();
        TimedPolicy[] policies = new TimedPolicy[n];
        KvCache[] caches = new KvCache[n];
        double[] prefill = new double[n];
        long[] best = new long[n];
        long[] bestCpu = new long[n];
        long[] bestPolicy = new long[n];
        Arrays.fill(best, Long.MAX_VALUE);
        Arrays.fill(bestCpu, Long.MAX_VALUE);
        Arrays.fill(bestPolicy, Long.MAX_VALUE);
        int[] tokens = new Random(context).ints(context + (REPEATS + 1) * steps + 8, 0, model.config().vocabSize()).toArray();
        try {
            for (int p = 0; p < n; p++) {
                policies[p] = new TimedPolicy(PolicyRegistry.create(spec(names.get(p)), model.config().architecture()));
                caches[p] = model.newCache(policies[p], PREFILL_CHUNK);
                long t0 = System.nanoTime();
                for (int from = 0; from < context; from += PREFILL_CHUNK) {
                    GenerationBenchmark.step(model, caches[p], Arrays.copyOfRange(tokens, from, Math.min(context, from + PREFILL_CHUNK)));
                }
                prefill[p] = context / ((System.nanoTime() - t0) / 1e9);
                for (int i = 0; i < 4; i++) {
                    GenerationBenchmark.step(model, caches[p], new int[] {tokens[context + i]});
                }
            }
            for (int r = 0; r < REPEATS; r++) {
                int next = context + 4 + r * steps; // every policy decodes the same tokens
                for (int p = 0; p < n; p++) {
                    policies[p].nanos = 0;
                    long start = System.nanoTime();
                    long cpuStart = THREADS.getCurrentThreadCpuTime();
                    for (int i = 0; i < steps; i++) {
                        GenerationBenchmark.step(model, caches[p], new int[] {tokens[next + i]});
                    }
                    best[p] = Math.min(best[p], System.nanoTime() - start);
                    bestCpu[p] = Math.min(bestCpu[p], THREADS.getCurrentThreadCpuTime() - cpuStart);
                    bestPolicy[p] = Math.min(bestPolicy[p], policies[p].nanos);
                }
            }
            Run[] runs = new Run[n];
            int last = context + 4 + REPEATS * steps;
            for (int p = 0; p < n; p++) {
                int arrays = arraysCreated(model, caches[p], tokens[last]);
                runs[p] = new Run(prefill[p], steps / (best[p] / 1e9), bestCpu[p] / 1e6 / steps,
                        bestPolicy[p] / 1e6 / steps, arrays, caches[p].storedTokens(), caches[p].bytes());
            }
            return runs;
        } finally {
            for (KvCache c : caches) {
                if (c != null) {
                    c.close();
                }
            }
        }
    }

    /** Native arrays one decode step creates ({@link StepArrays}). */
    private static int arraysCreated(TransformerModel model, KvCache cache, int token) {
        return StepArrays.created(() -> model.forward(new int[] {token}, cache, false).toFloatArray());
    }

    private static void printDecode(TransformerModel model, int[] contexts, Run[][] runs, int steps) {
        System.out.printf("%n## Prefill and decode (random tokens, prefill in chunks of %d, decode: the best of %d round-robin rounds of %d steps per policy)%n",
                PREFILL_CHUNK, REPEATS, steps);
        System.out.println("bounded policies at their defaults with budget " + BUDGET + " (name/N: compact_every N):");
        for (String name : POLICIES.subList(1, POLICIES.size())) {
            System.out.printf("  %-16s %s%n", name, PolicyRegistry.create(spec(name), model.config().architecture()).params());
        }
        if (Arrays.stream(contexts).anyMatch(x -> x > model.config().maxPositions())) {
            System.out.printf("contexts past the trained %d positions run on extrapolated RoPE: the speed is real, the text"
                    + " would not be (except streaming, whose cache-index positions stay within the budget)%n",
                    model.config().maxPositions());
        }
        System.out.println("| context | policy | stored | KV bytes | prefill tok/s | decode tok/s | ms/step | caller CPU ms/step |"
                + " in policy ms/step | arrays/step |");
        System.out.println("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (int i = 0; i < contexts.length; i++) {
            for (int p = 0; p < POLICIES.size(); p++) {
                Run r = runs[i][p];
                System.out.printf("| %d | %s | %d | %,d | %.0f | %.1f | %.2f | %.2f | %.3f | %d |%n", contexts[i],
                        POLICIES.get(p), r.stored(), r.kvBytes(), r.prefillPerSec(), r.decodePerSec(),
                        1000 / r.decodePerSec(), r.cpuMs(), r.policyMs(), r.arraysPerStep());
            }
        }
        System.out.printf("KV bytes per stored token (all layers, K+V, %s): %,d. Caller CPU: the calling thread's CPU time"
                + " (all of the step with 1 intra-op thread; robust to other load). Arrays/step: native arrays one step"
                + " creates, a floor on its native calls.%n", model.dtype(), model.kvSpec().bytesPerToken());
    }

    private static void printRoofline(TransformerModel model, Roofline roof, int[] contexts, Run[][] runs) {
        ModelConfig c = model.config();
        long weightParams = matmulParameters(model);
        int bytes = model.dtype().getNumOfBytes();
        System.out.printf("%n## Decode against this machine's limits%n");
        System.out.printf("per token: 2 × %,d matmul weights FLOPs + 4 × heads × headDim × stored × layers for attention;"
                + " bytes read: %,d weight bytes + the stored KV%n", weightParams, weightParams * bytes);
        System.out.printf("compute limit = %.1f GFLOP/s (square matmul) ÷ FLOPs/token; memory limit = %.1f GB/s (NDArray"
                + " in-place add) ÷ bytes/token%n", roof.squareGflops, roof.copyGbps);
        System.out.println("| context | policy | stored | MFLOP/token | MB/token | compute limit tok/s | memory limit tok/s |"
                + " measured tok/s | % of compute | % of memory |");
        System.out.println("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (int i = 0; i < contexts.length; i++) {
            for (int p = 0; p < POLICIES.size(); p++) {
                Run r = runs[i][p];
                double flops = 2.0 * weightParams + 4.0 * c.numHeads() * c.headDim() * r.stored() * c.numLayers();
                double read = weightParams * bytes + model.kvSpec().fullBytes(r.stored());
                double computeLimit = roof.squareGflops * 1e9 / flops;
                double memoryLimit = roof.copyGbps * 1e9 / read;
                System.out.printf("| %d | %s | %d | %.2f | %.2f | %.0f | %.0f | %.1f | %.1f %% | %.1f %% |%n", contexts[i],
                        POLICIES.get(p), r.stored(), flops / 1e6, read / 1e6, computeLimit, memoryLimit, r.decodePerSec(),
                        100 * r.decodePerSec() / computeLimit, 100 * r.decodePerSec() / memoryLimit);
            }
        }
    }

    private static void printOverhead(TransformerModel model, int steps) {
        int overheadSteps = Math.max(64, 4 * steps);
        System.out.printf("%n## Per-step overhead over full at the same stored size (%d slots; best of 2 × %d steps)%n",
                BUDGET, overheadSteps);
        double[] best = new double[POLICIES.size()];
        Arrays.fill(best, Double.MAX_VALUE);
        for (int r = 0; r < 2; r++) {
            for (int p = 0; p < POLICIES.size(); p++) {
                best[p] = Math.min(best[p], PolicyOverheadBenchmark.msPerStep(model, spec(POLICIES.get(p)), BUDGET, overheadSteps));
            }
        }
        System.out.println("| policy | ms/step | overhead ms/step |");
        System.out.println("|---|---:|---:|");
        for (int p = 0; p < POLICIES.size(); p++) {
            System.out.printf("| %s | %.3f | %+.3f (%+.0f %%) |%n", POLICIES.get(p), best[p], best[p] - best[0],
                    100 * (best[p] - best[0]) / best[0]);
        }
    }

    /** Parameters that decode multiplies by (all projections and the LM head; not the embedding lookup or norms). */
    private static long matmulParameters(TransformerModel model) {
        if (!(model instanceof LlamaModel llama)) {
            return model.parameterCount();
        }
        LlamaWeights w = llama.weights();
        long total = w.lmHead().size();
        for (int i = 0; i < model.config().numLayers(); i++) {
            LlamaWeights.Layer l = w.layer(i);
            total += l.qkv().size() + l.out().size() + l.gateUp().size() + l.down().size();
        }
        return total;
    }

    /** /proc/loadavg as it reads, for the harnesses' headers. */
    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return "unknown";
        }
    }

    /** Delegates to a policy and times its own work (observing attention, planning, compacting). */
    private static final class TimedPolicy implements CachePolicy {
        private final CachePolicy inner;
        long nanos;

        TimedPolicy(CachePolicy inner) {
            this.inner = inner;
        }

        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public Map<String, Object> params() {
            return inner.params();
        }

        @Override
        public RopeMode ropeMode() {
            return inner.ropeMode();
        }

        @Override
        public dev.kvlab.cache.Quantization quantization() {
            return inner.quantization();
        }

        @Override
        public boolean hasFixedBudget() {
            return inner.hasFixedBudget();
        }

        @Override
        public int maxSlots() {
            return inner.maxSlots();
        }

        @Override
        public boolean observesAttention() {
            return inner.observesAttention();
        }

        @Override
        public void afterAttention(int layer, LayerCache cache, AttentionObservation attention, long seenTokens) {
            long t = System.nanoTime();
            inner.afterAttention(layer, cache, attention, seenTokens);
            nanos += System.nanoTime() - t;
        }
    }
}
