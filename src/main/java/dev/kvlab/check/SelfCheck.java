package dev.kvlab.check;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.util.cuda.CudaUtils;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.Generator;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.generation.TokenListener;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.model.DeviceOutOfMemory;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.tokenizer.TextTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/**
 * The engine's self-check, without Spring or a web server: on the device kvlab would pick, does a
 * model load, compute the CPU's logits, decode at a measurable speed under three policies, report
 * its memory, and survive running out of memory? Made for a machine nobody has run kvlab on (a GPU
 * host reached through a bundle): its last line of standard output is one JSON report
 * {@code {"ok", "device", "checks": {"device", "logits", "speed", "scores", "memory", "oom"}}}, each
 * check with {@code ok} and its figures, and it exits 1 when a check fails.
 *
 * <pre>
 * ./mvnw -q -Pselfcheck [-Dselfcheck.args="MODEL_DIR [--device auto|cpu|gpu:N] [--kv-limit BYTES]"]
 * </pre>
 *
 * On a GPU the out-of-memory check fills the device with 256 MiB blocks until CUDA refuses, then
 * frees them and empties PyTorch's cache; on a CPU, where kvlab's limit is a budget it enforces
 * itself ({@code kvlab.memory.limit}), it grows a {@code full} cache to {@code --kv-limit} and
 * checks that closing it returns every byte.
 */
public final class SelfCheck {

    /** f32 logits on another device must match the CPU's this closely. */
    static final double F32_TOLERANCE = 1e-4;
    /** f16 logits: half precision keeps about three significant digits of logits of magnitude ~10. */
    static final double F16_TOLERANCE = 0.1;
    static final int GREEDY_STEPS = 32;

    private static final String TEXT = "It is a truth universally acknowledged, that a single man in possession of a good"
            + " fortune, must be in want of a wife. However little known the feelings or views of such a man may be on"
            + " his first entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families.";

    /**
     * @param device {@code auto}, {@code cpu}, {@code gpu} or {@code gpu:N}
     * @param kvLimitBytes on a CPU, the KV bytes the out-of-memory check grows a cache to
     */
    public record Options(Path modelDir, String device, long kvLimitBytes) {}

    private SelfCheck() {}

    public static void main(String[] args) {
        Options options = parse(args);
        Map<String, Object> report;
        try {
            report = run(options);
        } catch (RuntimeException | Error e) {
            report = new LinkedHashMap<>();
            report.put("ok", false);
            report.put("error", e.toString());
        }
        System.out.println(JsonMapper.shared().writeValueAsString(report));
        System.exit(Boolean.TRUE.equals(report.get("ok")) ? 0 : 1);
    }

    /** Runs every check; the report's {@code ok} is true when all passed. */
    public static Map<String, Object> run(Options options) {
        Map<String, Object> checks = new LinkedHashMap<>();
        Device device = ModelLoader.resolveDevice(options.device());
        checks.put("device", deviceCheck(options.device(), device));
        ModelFolder folder = ModelFolder.open(options.modelDir());
        DeviceMemoryProbe probe = new DeviceMemoryProbe(device);
        try (TextTokenizer tokenizer = TextTokenizer.load(folder.tokenizerFile());
                TransformerModel model = ModelLoader.load(options.modelDir(),
                        new ModelLoader.Options(DeviceMemoryProbe.deviceName(device), null))) {
            DeviceMemoryProbe.Snapshot loaded = probe.snapshot();
            Generator generator = new Generator(model, tokenizer, folder.eosTokenIds(), folder.promptBosTokenId(), 64);
            checks.put("logits", logitsCheck(options, folder, tokenizer, generator));
            checks.put("speed", speedCheck(generator));
            checks.put("scores", ScoresCheck.run(model, prompt(generator)));
            checks.put("oom", device.isGpu() ? gpuOutOfMemory(generator, probe) : cpuOutOfMemory(generator, probe,
                    options.kvLimitBytes()));
            DeviceMemoryProbe.Snapshot after = probe.snapshot();
            Map<String, Object> memory = new LinkedHashMap<>();
            memory.put("ok", loaded.totalBytes() > 0 && loaded.usedBytes() > 0);
            memory.put("device", loaded.device());
            memory.put("used_after_load_bytes", loaded.usedBytes());
            memory.put("used_at_end_bytes", after.usedBytes());
            memory.put("total_bytes", loaded.totalBytes());
            memory.put("weights_bytes", model.parameterCount() * model.dtype().getNumOfBytes());
            checks.put("memory", memory);
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("ok", checks.values().stream().allMatch(c -> Boolean.TRUE.equals(((Map<?, ?>) c).get("ok"))));
            report.put("device", DeviceMemoryProbe.deviceName(device));
            report.put("dtype", model.dtype().toString().toLowerCase(Locale.ROOT));
            report.put("model", options.modelDir().toString());
            report.put("checks", checks);
            return report;
        }
    }

    /** What the engine and CUDA each see, and why the device was chosen. */
    static Map<String, Object> deviceCheck(String requested, Device chosen) {
        Map<String, Object> c = new LinkedHashMap<>();
        int gpus = Engine.getInstance().getGpuCount();
        c.put("ok", true);
        c.put("requested", requested);
        c.put("chosen", DeviceMemoryProbe.deviceName(chosen));
        c.put("engine", Engine.getInstance().getEngineName() + " " + Engine.getInstance().getVersion());
        c.put("engine_gpus", gpus);
        c.put("cuda_runtime_found", CudaUtils.hasCuda());
        if (CudaUtils.hasCuda()) {
            c.put("cuda_version", CudaUtils.getCudaVersionString());
        }
        c.put("reason", chosen.isGpu() ? "the engine sees " + gpus + " GPU(s)"
                : "auto".equals(requested) ? "the engine sees no GPU (it finds CUDA through JNA's libcudart; "
                        + "CUDA inside a pip wheel's nvidia/ folders needs -Djna.library.path)" : "cpu requested");
        return c;
    }

    /**
     * The model's logits on its device against the CPU's (f32) for the same tokens, and the greedy
     * tokens of both. On a CPU the comparison is chunked prefill (8 tokens a pass) against one pass.
     */
    static Map<String, Object> logitsCheck(Options options, ModelFolder folder, TextTokenizer tokenizer,
            Generator generator) {
        TransformerModel model = generator.model();
        int[] tokens = generator.promptTokens(TEXT);
        float[] here = lastLogits(model, tokens, tokens.length);
        float[] reference;
        List<Integer> greedy = greedy(generator, tokens);
        List<Integer> referenceGreedy;
        String against;
        if (model.device().isGpu()) {
            try (TransformerModel cpu = ModelLoader.load(options.modelDir(),
                    new ModelLoader.Options("cpu", DataType.FLOAT32))) {
                reference = lastLogits(cpu, tokens, tokens.length);
                referenceGreedy = greedy(new Generator(cpu, tokenizer, folder.eosTokenIds(),
                        folder.promptBosTokenId(), 64), tokens);
            }
            against = "cpu f32, one pass";
        } else {
            reference = lastLogits(model, tokens, 8);
            referenceGreedy = greedy(new Generator(model, tokenizer, folder.eosTokenIds(),
                    folder.promptBosTokenId(), 8), tokens);
            against = "the same model prefilled 8 tokens a pass";
        }
        double worst = 0;
        for (int i = 0; i < here.length; i++) {
            worst = Math.max(worst, Math.abs(here[i] - reference[i]));
        }
        double tolerance = model.dtype() == DataType.FLOAT16 ? F16_TOLERANCE : F32_TOLERANCE;
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("ok", worst <= tolerance && greedy.equals(referenceGreedy));
        c.put("against", against);
        c.put("tokens", tokens.length);
        c.put("max_abs_diff", worst);
        c.put("tolerance", tolerance);
        c.put("greedy_steps", GREEDY_STEPS);
        c.put("same_greedy_tokens", greedy.equals(referenceGreedy));
        return c;
    }

    /** The last row's logits after feeding {@code tokens} in chunks of {@code chunk} to a fresh full cache. */
    private static float[] lastLogits(TransformerModel model, int[] tokens, int chunk) {
        try (KvCache cache = model.newCache(new FullPolicy(), chunk)) {
            float[] last = null;
            for (int from = 0; from < tokens.length; from += chunk) {
                int[] part = Arrays.copyOfRange(tokens, from, Math.min(tokens.length, from + chunk));
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    last = model.forward(part, cache, false).toType(DataType.FLOAT32, false).toFloatArray();
                }
            }
            return last;
        }
    }

    private static List<Integer> greedy(Generator generator, int[] prompt) {
        List<Integer> ids = new ArrayList<>();
        GenerationRequest request = new GenerationRequest(TEXT, GREEDY_STEPS, SamplingParams.greedy(), List.of(),
                new FullPolicy(), true);
        generator.generate(request, prompt, (id, text) -> {
            if (id >= 0) {
                ids.add(id);
            }
        });
        return ids;
    }

    /** Prefill and decode tokens/s of a 256-token prompt and 32 new tokens, for full and two bounded policies. */
    static Map<String, Object> speedCheck(Generator generator) {
        int[] prompt = prompt(generator);
        Map<String, Object> c = new LinkedHashMap<>();
        boolean ok = true;
        for (Map<String, Object> kv : List.of(Map.<String, Object>of("policy", "full"),
                Map.<String, Object>of("policy", "h2o", "budget", 64),
                Map.<String, Object>of("policy", "streaming", "budget", 64))) {
            GenerationResult r = generator.generate(new GenerationRequest(TEXT, 32, SamplingParams.greedy(), List.of(),
                    PolicyRegistry.create(kv), true), prompt, TokenListener.NONE);
            double prefill = prompt.length / (r.timings().prefillNanos() / 1e9);
            double decode = r.timings().tokensPerSecond();
            ok &= prefill > 0 && decode > 0 && r.completionTokens() == 32;
            c.put(String.valueOf(kv.get("policy")), Map.of("prefill_tokens_per_second", Math.round(prefill),
                    "decode_tokens_per_second", Math.round(decode * 10) / 10.0));
        }
        c.put("ok", ok);
        c.put("prompt_tokens", prompt.length);
        return c;
    }

    /** The text repeated to 256 tokens, or to what the model's positions leave for 64 new tokens. */
    private static int[] prompt(Generator generator) {
        int[] base = generator.promptTokens(TEXT);
        int[] prompt = new int[Math.min(256, generator.model().config().maxPositions() - 64)];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = base[i % base.length];
        }
        return prompt;
    }

    /**
     * CPU: kvlab's limit is a budget it enforces itself, so a {@code full} cache is grown until its
     * bytes pass {@code kvLimitBytes}; closing it must return every accounted byte, and a generation
     * must then succeed.
     */
    static Map<String, Object> cpuOutOfMemory(Generator generator, DeviceMemoryProbe probe, long kvLimitBytes) {
        TransformerModel model = generator.model();
        long before = probe.snapshot().usedBytes();
        long tokens = 0;
        long reached;
        boolean limitReached = false;
        try (KvCache cache = model.newCache(new FullPolicy(), 64)) {
            int[] chunk = new int[64];
            Arrays.fill(chunk, generator.promptTokens(TEXT)[1 % generator.promptTokens(TEXT).length]);
            while (cache.bytes() <= kvLimitBytes && tokens + chunk.length <= model.config().maxPositions()) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    model.forward(chunk, cache, false);
                }
                tokens += chunk.length;
            }
            reached = cache.bytes();
            limitReached = reached > kvLimitBytes;
        }
        long after = probe.snapshot().usedBytes();
        boolean recovered = generates(generator);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("ok", limitReached && recovered);
        c.put("kind", "budget (kvlab.memory.limit on a CPU)");
        c.put("kv_limit_bytes", kvLimitBytes);
        c.put("tokens_at_limit", tokens);
        c.put("kv_bytes_at_limit", reached);
        c.put("rss_before_bytes", before);
        c.put("rss_after_bytes", after);
        c.put("generation_after", recovered);
        return c;
    }

    /**
     * GPU: blocks of 256 MiB are allocated until CUDA refuses; the refusal must be recognised as an
     * out-of-memory, the memory must come back once the blocks are freed and PyTorch's cache emptied
     * (within 5 % of the device), and a generation must then succeed.
     */
    static Map<String, Object> gpuOutOfMemory(Generator generator, DeviceMemoryProbe probe) {
        Device device = generator.model().device();
        long before = probe.snapshot().usedBytes();
        long total = probe.snapshot().totalBytes();
        EngineException refusal = null;
        long peak = before;
        int blocks = 0;
        try (NDManager ballast = NDManager.newBaseManager(device)) {
            long limitBlocks = total / (256L << 20) + 4;
            while (blocks < limitBlocks) {
                try {
                    ballast.zeros(new Shape(64L << 20), DataType.FLOAT32); // 256 MiB, kept until the manager closes
                    blocks++;
                    peak = Math.max(peak, probe.snapshot().usedBytes());
                } catch (EngineException e) {
                    refusal = e;
                    break;
                }
            }
        }
        JniUtils.emptyCudaCache();
        long after = probe.snapshot().usedBytes();
        boolean recognised = refusal != null && DeviceOutOfMemory.isOutOfMemory(refusal);
        boolean returned = Math.abs(after - before) <= total / 20;
        boolean recovered = generates(generator);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("ok", recognised && returned && recovered);
        c.put("kind", "device (CUDA)");
        c.put("blocks_of_256_mib", blocks);
        c.put("refusal", refusal == null || refusal.getMessage() == null ? null
                : refusal.getMessage().lines().findFirst().orElse(""));
        c.put("recognised_as_out_of_memory", recognised);
        c.put("used_before_bytes", before);
        c.put("used_peak_bytes", peak);
        c.put("used_after_bytes", after);
        c.put("generation_after", recovered);
        return c;
    }

    private static boolean generates(Generator generator) {
        try {
            return generator.generate(new GenerationRequest(TEXT, 8, SamplingParams.greedy(), List.of(),
                    new FullPolicy(), true), TokenListener.NONE).completionTokens() == 8;
        } catch (RuntimeException e) {
            return false;
        }
    }

    static Options parse(String[] args) {
        Path dir = Path.of("models/kvlab-tiny");
        String device = "auto";
        long kvLimit = 1L << 20;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--device" -> device = args[++i];
                case "--kv-limit" -> kvLimit = Long.parseLong(args[++i]);
                default -> {
                    if (args[i].startsWith("--")) {
                        throw new IllegalArgumentException("unknown option " + args[i]
                                + "; usage: selfcheck [MODEL_DIR] [--device auto|cpu|gpu:N] [--kv-limit BYTES]");
                    }
                    dir = Path.of(args[i]);
                }
            }
        }
        return new Options(dir, device, kvLimit);
    }
}
