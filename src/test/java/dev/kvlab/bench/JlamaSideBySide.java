package dev.kvlab.bench;

import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.data.HeldOutText;
import dev.kvlab.generation.Samplers;
import dev.kvlab.model.AbstractDecoder;
import dev.kvlab.model.IntraOpThreads;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.tokenizer.TextTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * kvlab against Jlama on the same checkpoint: prefill and decode tokens/s of each, their ratio, and
 * whether the two give the same greedy tokens (a cross-check of kvlab's forward pass). Both engines
 * get the same prompt as token ids (bos + the start of the built-in held-out corpus), prefill it in
 * one call, then run the same number of single-token decode steps feeding back the argmax, f32
 * throughout, kvlab with the full cache. Each engine runs {@value #WARMUPS} untimed warm-up
 * generations, then {@value #REPEATS} timed ones, of which the fastest counts. The untimed first
 * run of each also keeps the logits behind every greedy token: up to where the tokens part, both
 * engines saw the same inputs, so their logits are compared there (largest difference, and each
 * engine's top-2 margin where they part), which tells a near tie from a forward-pass bug.
 *
 * <p>Jlama (bench/jlama, a separate Maven build) needs Java 21+ and the Vector API: this harness
 * builds it when its jar is missing or stale, with the JDK in {@code JLAMA_JAVA_HOME} (default
 * {@value #DEFAULT_JLAMA_JDK}), and runs it as a subprocess. Threads: without a {@code threads}
 * argument each engine runs as it would serve, kvlab prefilling with PyTorch's count (the cores) and
 * decoding with {@code kvlab.cpu.decode-threads} (1), Jlama with the cores for both; with one, both
 * engines use that count for everything. Jlama runs twice: with its default tensor
 * operations (native SIMD from jlama-native, which it picks whenever that jar is on the classpath)
 * and with its pure-Java Panama operations ({@code -Djlama.force_panama_tensor_operations=true}).
 * In 0.8.4 the native path computes a wrong forward pass for this model's shapes (see
 * bench/jlama/README.md), the Panama path the same one as kvlab, so the two are reported apart.
 *
 * <pre>{@code ./mvnw -q -Pbench -Dbench.main=dev.kvlab.bench.JlamaSideBySide -Dbench.args="[modelDir] [contexts] [steps] [threads]"}</pre>
 * e.g. {@code -Dbench.args="models/kvlab-tiny 128,512,1024 64"} (the defaults).
 */
public final class JlamaSideBySide {
    private static final int WARMUPS = 2;
    private static final int REPEATS = 3;
    private static final String DEFAULT_JLAMA_JDK = "/usr/lib/jvm/temurin-25-jdk-amd64";
    private static final Path JLAMA_MODULE = Path.of("bench", "jlama");
    private static final Path JLAMA_JAR = JLAMA_MODULE.resolve(Path.of("target", "kvlab-jlama-bench.jar"));

    private JlamaSideBySide() {}

    /** Greedy tokens (the first from the prefill logits), the logits behind them, the fastest timings. */
    record Generation(int[] tokens, float[][] logits, double prefillTokS, double decodeTokS) {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 && !args[0].isBlank() ? args[0] : "models/kvlab-tiny");
        int[] contexts = Arrays.stream((args.length > 1 ? args[1] : "128,512,1024").split(","))
                .mapToInt(s -> Integer.parseInt(s.trim())).toArray();
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        Integer threadsArg = args.length > 3 ? Integer.valueOf(args[3]) : null;
        System.out.println("load average at start: " + PerformanceBenchmark.loadAverage());

        List<int[]> prompts = prompts(dir, contexts);
        List<Generation> kvlab = new ArrayList<>();
        int threads;
        try (TransformerModel model = ModelLoader.load(dir, new ModelLoader.Options("cpu", null))) {
            AbstractDecoder decoder = (AbstractDecoder) model;
            if (threadsArg != null) { // one count for everything, both engines
                decoder.setThreads(new IntraOpThreads(threadsArg, threadsArg));
            }
            // without a count, each engine runs as it would serve: kvlab prefills on all cores and decodes on
            // kvlab.cpu.decode-threads (1); Jlama gets all cores for both
            threads = decoder.threads().prefill();
            System.out.printf("model %s: %,d parameters, dtype %s; kvlab: PyTorch %d threads for prefill, %d for decode,"
                    + " full cache; %d decode steps, best of %d after %d warm-ups%n", dir.getFileName(),
                    model.parameterCount(), model.dtype(), threads, decoder.threads().decode(), steps, REPEATS, WARMUPS);
            for (int[] prompt : prompts) {
                kvlab.add(kvlab(model, prompt, steps));
            }
        }
        Path logits = Files.createTempDirectory("kvlab-jlama-logits");
        List<List<JsonNode>> variants = new ArrayList<>();
        for (boolean panama : new boolean[] {false, true}) {
            List<JsonNode> jlama = runJlama(dir, prompts, steps, threads, panama,
                    logits.resolve((panama ? "panama" : "default") + "-logits").toString());
            variants.add(jlama);
            System.out.printf("jlama%s: %s, Java %s, %d threads, config context length %d%n",
                    panama ? " (forced Panama)" : " (default)", jlama.get(0).get("ops").asString(),
                    jlama.get(0).get("java").asString(), jlama.get(0).get("threads").asInt(),
                    jlama.get(0).get("context_length").asInt());
        }

        System.out.println();
        System.out.println("context | jlama ops | prefill tok/s kvlab | jlama | kvlab/jlama | decode tok/s kvlab | jlama | kvlab/jlama | greedy tokens");
        System.out.println("---|---|---|---|---|---|---|---|---");
        List<String> notes = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            Generation k = kvlab.get(i);
            for (int v = 0; v < variants.size(); v++) {
                JsonNode j = variants.get(v).get(i);
                String ops = j.get("ops").asString();
                double jPrefill = j.get("prefill_tok_s").asDouble();
                double jDecode = j.get("decode_tok_s").asDouble();
                float[][] jLogits = readLogits(logits.resolve((v == 1 ? "panama" : "default") + "-logits-" + i + ".f32"),
                        k.logits());
                System.out.printf("%d | %s | %.0f | %.0f | %.2f | %.1f | %.1f | %.2f | %s%n", contexts[i], ops,
                        k.prefillTokS(), jPrefill, k.prefillTokS() / jPrefill, k.decodeTokS(), jDecode,
                        k.decodeTokS() / jDecode,
                        compare(contexts[i] + ", " + ops, contexts[i], k, ints(j.get("tokens")), jLogits, notes));
            }
        }
        try (Stream<Path> files = Files.list(logits)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.delete(f);
            }
        }
        Files.delete(logits);
        notes.forEach(System.out::println);
        System.out.println("load average at end: " + PerformanceBenchmark.loadAverage());
    }

    /** bos followed by the first tokens of the built-in held-out corpus, one prompt per context. */
    private static List<int[]> prompts(Path dir, int[] contexts) {
        ModelFolder folder = ModelFolder.open(dir);
        int max = Arrays.stream(contexts).max().orElse(0);
        int[] text;
        try (TextTokenizer tokenizer = TextTokenizer.load(folder.tokenizerFile())) {
            String heldOut = HeldOutText.builtIn();
            text = tokenizer.encode(heldOut.substring(0, Math.min(heldOut.length(), max * 16)));
        }
        if (text.length < max) {
            throw new IllegalStateException("the held-out corpus gave " + text.length + " tokens, fewer than " + max);
        }
        List<int[]> prompts = new ArrayList<>();
        for (int context : contexts) {
            prompts.add(folder.promptBosTokenId() == null ? Arrays.copyOf(text, context)
                    : IntStream.concat(IntStream.of(folder.promptBosTokenId()), Arrays.stream(text, 0, context - 1)).toArray());
        }
        return prompts;
    }

    private static Generation kvlab(TransformerModel model, int[] prompt, int steps) {
        Generation first = null;
        double prefill = 0;
        double decode = 0;
        for (int r = 0; r < WARMUPS + REPEATS; r++) {
            Generation run = generate(model, prompt, steps, r == 0);
            if (first == null) {
                first = run;
            } else if (!Arrays.equals(first.tokens(), run.tokens())) {
                throw new IllegalStateException("kvlab is not deterministic: run " + r + " decoded other tokens");
            }
            if (r >= WARMUPS) {
                prefill = Math.max(prefill, run.prefillTokS());
                decode = Math.max(decode, run.decodeTokS());
            }
        }
        return new Generation(first.tokens(), first.logits(), prefill, decode);
    }

    /** One greedy generation: prefill in one chunk, then {@code steps} single-token forward passes. */
    private static Generation generate(TransformerModel model, int[] prompt, int steps, boolean keepLogits) {
        int[] tokens = new int[steps + 1];
        float[][] kept = keepLogits ? new float[steps + 1][] : null;
        try (KvCache cache = model.newCache(new FullPolicy(), prompt.length)) {
            long t0 = System.nanoTime();
            float[] logits;
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                logits = model.forward(prompt, cache, false).toFloatArray();
            }
            tokens[0] = Samplers.argmax(logits);
            long t1 = System.nanoTime();
            if (keepLogits) {
                kept[0] = logits;
            }
            for (int i = 0; i < steps; i++) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    logits = model.forward(new int[] {tokens[i]}, cache, false).toFloatArray();
                }
                tokens[i + 1] = Samplers.argmax(logits);
                if (keepLogits) {
                    kept[i + 1] = logits; // a fresh array each step: keeping it costs nothing
                }
            }
            long t2 = System.nanoTime();
            return new Generation(tokens, kept, prompt.length / ((t1 - t0) / 1e9), steps / ((t2 - t1) / 1e9));
        }
    }

    private static float margin(float[] logits, int best) {
        float second = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < logits.length; i++) {
            if (i != best) {
                second = Math.max(second, logits[i]);
            }
        }
        return logits[best] - second;
    }

    /**
     * "identical (n)", or where the two sequences part; a note gives the largest logit difference over
     * the steps both engines ran on the same inputs and, where they part, each engine's logits of the
     * two candidate tokens.
     */
    private static String compare(String label, int context, Generation kvlab, int[] jlama, float[][] jlamaLogits,
            List<String> notes) {
        int n = kvlab.tokens().length;
        if (jlama.length != n) {
            return "Jlama gave " + jlama.length + " tokens, kvlab " + n;
        }
        int at = 0;
        while (at < n && kvlab.tokens()[at] == jlama[at]) {
            at++;
        }
        float maxDiff = 0;
        float maxAbs = 0;
        for (int s = 0; s < Math.min(n, at + 1); s++) { // step `at` still had the same inputs
            for (int v = 0; v < jlamaLogits[s].length; v++) {
                maxDiff = Math.max(maxDiff, Math.abs(kvlab.logits()[s][v] - jlamaLogits[s][v]));
                maxAbs = Math.max(maxAbs, Math.abs(kvlab.logits()[s][v]));
            }
        }
        float prefillDiff = 0;
        for (int v = 0; v < jlamaLogits[0].length; v++) {
            prefillDiff = Math.max(prefillDiff, Math.abs(kvlab.logits()[0][v] - jlamaLogits[0][v]));
        }
        String agreement = String.format("largest |logit difference| %.2e over %d steps on the same inputs"
                + " (prefill %.2e; largest |logit| %.1f)", maxDiff, Math.min(n, at + 1), prefillDiff, maxAbs);
        if (at == n) {
            float closest = Float.MAX_VALUE;
            for (int s = 0; s < n; s++) {
                closest = Math.min(closest, Math.min(margin(kvlab.logits()[s], kvlab.tokens()[s]),
                        margin(jlamaLogits[s], jlama[s])));
            }
            notes.add(String.format("%s: all %d greedy tokens identical; %s; smallest top-2 margin %.4f",
                    label, n, agreement, closest));
            return "identical (" + n + ")";
        }
        int a = kvlab.tokens()[at];
        int b = jlama[at];
        notes.add(String.format("%s: tokens part at generated token %d (position %d): kvlab picks %d"
                        + " (logits %d: %.5f, %d: %.5f, top-2 margin %.5f), jlama picks %d (logits %d: %.5f, %d: %.5f);"
                        + " %s; next tokens kvlab %s, jlama %s",
                label, at, context + at, a, a, kvlab.logits()[at][a], b, kvlab.logits()[at][b],
                margin(kvlab.logits()[at], a), b, a, jlamaLogits[at][a], b, jlamaLogits[at][b], agreement,
                Arrays.toString(Arrays.copyOfRange(kvlab.tokens(), at, Math.min(n, at + 8))),
                Arrays.toString(Arrays.copyOfRange(jlama, at, Math.min(n, at + 8)))));
        return "differ from token " + at + " of " + n;
    }

    /** Builds bench/jlama when needed, then runs it on the prompts; one JSON result per prompt. */
    private static List<JsonNode> runJlama(Path modelDir, List<int[]> prompts, int steps, int threads,
            boolean panama, String logitsPrefix) throws IOException, InterruptedException {
        Path jdk = Path.of(System.getenv().getOrDefault("JLAMA_JAVA_HOME", DEFAULT_JLAMA_JDK));
        Path java = jdk.resolve(Path.of("bin", "java"));
        if (!Files.isExecutable(java)) {
            throw new IllegalStateException("Jlama needs a JDK 21+: set JLAMA_JAVA_HOME (no " + java + ")");
        }
        if (isStale()) {
            ProcessBuilder build = new ProcessBuilder(Path.of("mvnw").toAbsolutePath().toString(), "-q", "-B",
                    "-f", JLAMA_MODULE.resolve("pom.xml").toString(), "package").inheritIO();
            build.environment().put("JAVA_HOME", jdk.toString());
            if (build.start().waitFor() != 0) {
                throw new IllegalStateException("building " + JLAMA_MODULE + " failed");
            }
        }
        Path ids = Files.createTempFile("kvlab-jlama-ids", ".txt");
        Path log = Files.createTempFile("kvlab-jlama", ".log");
        try {
            Files.write(ids, prompts.stream().map(p -> Arrays.stream(p).mapToObj(Integer::toString)
                    .collect(Collectors.joining(" "))).collect(Collectors.toList()));
            Process process = new ProcessBuilder(java.toString(), "-Xmx2g",
                    "-Djlama.force_panama_tensor_operations=" + panama, "--add-modules", "jdk.incubator.vector",
                    "--enable-preview", "--enable-native-access=ALL-UNNAMED", "-jar", JLAMA_JAR.toString(),
                    modelDir.toString(), ids.toString(), Integer.toString(steps), Integer.toString(threads),
                    Integer.toString(WARMUPS), Integer.toString(REPEATS), logitsPrefix)
                    .redirectError(log.toFile()).start();
            String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (process.waitFor() != 0) {
                throw new IllegalStateException("Jlama failed:\n" + out + Files.readString(log));
            }
            List<JsonNode> results = out.lines().filter(l -> l.startsWith("{"))
                    .map(l -> JsonMapper.shared().readTree(l)).collect(Collectors.toList());
            if (results.size() != prompts.size()) {
                throw new IllegalStateException("Jlama gave " + results.size() + " results for " + prompts.size()
                        + " prompts:\n" + out + Files.readString(log));
            }
            return results;
        } finally {
            Files.deleteIfExists(ids);
            Files.deleteIfExists(log);
        }
    }

    /** The jar is missing or older than the module's pom or sources. */
    private static boolean isStale() throws IOException {
        if (!Files.exists(JLAMA_JAR)) {
            return true;
        }
        FileTime built = Files.getLastModifiedTime(JLAMA_JAR);
        try (Stream<Path> sources = Stream.concat(Stream.of(JLAMA_MODULE.resolve("pom.xml")),
                Files.walk(JLAMA_MODULE.resolve("src")))) {
            return sources.anyMatch(p -> {
                try {
                    return Files.getLastModifiedTime(p).compareTo(built) > 0;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    /** Jlama's logits, shaped like kvlab's: (steps + 1) rows of little-endian f32. */
    private static float[][] readLogits(Path file, float[][] like) throws IOException {
        FloatBuffer in = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[][] out = new float[like.length][];
        for (int s = 0; s < out.length; s++) {
            out[s] = new float[like[s].length];
            in.get(out[s]);
        }
        return out;
    }
}
