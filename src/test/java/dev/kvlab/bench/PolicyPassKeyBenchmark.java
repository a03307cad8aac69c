package dev.kvlab.bench;

import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.data.HeldOutText;
import dev.kvlab.data.PassKeyDocuments;
import dev.kvlab.data.PassKeyDocuments.PassKeyDocument;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.Generator;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.tokenizer.TextTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Pass-key retrieval of every compressing policy at fractions of the cache, on held-out filler the
 * model never trained on: documents of each context length × depth × trial, answered greedily (8
 * tokens), each policy keeping {@code budget_ratio} of the tokens seen. The trials of one row run as
 * one batch through the step scheduler's forward pass. A harness, not a test.
 *
 * <pre>
 * ./mvnw -q -Pbench -Dbench.main=dev.kvlab.bench.PolicyPassKeyBenchmark \
 *     -Dbench.args="models/kvlab-tiny --ratios 0.5,0.25 --lengths 384,640,1000 --trials 3"
 * </pre>
 * {@code --chunk N} sets the prefill chunk (512, as {@code kvlab.prefill.chunk}). {@code --policies} takes {@code name} or {@code name:key=value:…} entries separated by commas; a {@code full} entry (e.g. {@code full:quantization=int8}) runs once, with no ratio.
 */
public final class PolicyPassKeyBenchmark {
    private PolicyPassKeyBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 && !args[0].startsWith("--") ? args[0] : "models/kvlab-tiny");
        double[] ratios = {0.5, 0.25};
        int[] lengths = {384, 640, 1000};
        double[] depths = {0.1, 0.5, 0.9};
        int trials = 3;
        int chunk = 512; // kvlab.prefill.chunk: prompt tokens per forward pass
        List<String> policies = List.of("h2o", "snapkv", "snapkv:window=16", "knorm", "tova", "streaming",
                "entropy-merge", "random");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--ratios" -> ratios = java.util.Arrays.stream(args[++i].split(",")).mapToDouble(Double::parseDouble)
                        .toArray();
                case "--lengths" -> lengths = java.util.Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt)
                        .toArray();
                case "--trials" -> trials = Integer.parseInt(args[++i]);
                case "--chunk" -> chunk = Integer.parseInt(args[++i]);
                case "--policies" -> policies = List.of(args[++i].split(","));
                default -> {
                    if (i > 0 || args[i].startsWith("--")) {
                        throw new IllegalArgumentException("unknown option " + args[i]);
                    }
                }
            }
        }
        ModelFolder folder = ModelFolder.open(dir);
        try (TransformerModel model = ModelLoader.load(dir, new ModelLoader.Options("cpu", null));
                TextTokenizer tokenizer = TextTokenizer.load(folder.tokenizerFile())) {
            Generator generator = new Generator(model, tokenizer, folder.eosTokenIds(), folder.promptBosTokenId(), chunk);
            PassKeyDocuments filler = new PassKeyDocuments(PassKeyDocuments.sentences(HeldOutText.builtIn()),
                    s -> tokenizer.encode(s).length);
            List<PassKeyDocument> documents = new ArrayList<>();
            for (int length : lengths) {
                for (double depth : depths) {
                    for (int t = 0; t < trials; t++) {
                        documents.add(filler.generate(length, depth, new SplittableRandom(length * 1_000_003L + t
                                + Math.round(depth * 1000))));
                    }
                }
            }
            System.out.printf(Locale.ROOT, "model %s, held-out filler, lengths %s, depths %s, %d trials: %d documents"
                    + " per row, load %s%n", dir, java.util.Arrays.toString(lengths), java.util.Arrays.toString(depths),
                    trials, documents.size(), PerformanceBenchmark.loadAverage());
            System.out.println("| policy | cache kept | retrieved | of full's |");
            System.out.println("|---|---:|---:|---:|");
            int full = retrieved(generator, documents, Map.of("policy", "full"));
            System.out.printf(Locale.ROOT, "| full | 100 %% | %d/%d | 1.00 |%n", full, documents.size());
            for (double ratio : ratios) {
                for (String entry : policies) {
                    Map<String, Object> kv = kvCache(entry);
                    boolean keepsAll = kv.get("policy").equals("full"); // one row, whatever the ratio
                    if (keepsAll && ratio != ratios[0]) {
                        continue;
                    }
                    if (!keepsAll) {
                        kv.put("budget_ratio", ratio);
                    }
                    int got = retrieved(generator, documents, kv);
                    System.out.printf(Locale.ROOT, "| %s | %.0f %% | %d/%d | %.2f |%n", entry, keepsAll ? 100 : ratio * 100, got,
                            documents.size(), full == 0 ? Double.NaN : (double) got / full);
                }
            }
        }
    }

    /** A {@code name:key=value:…} entry as a {@code kv_cache} object: integers, decimals, else strings. */
    static Map<String, Object> kvCache(String entry) {
        String[] parts = entry.split(":");
        Map<String, Object> kv = new LinkedHashMap<>();
        kv.put("policy", parts[0]);
        for (int i = 1; i < parts.length; i++) {
            String[] kvp = parts[i].split("=", 2);
            Object value = kvp[1].matches("-?\\d+") ? Integer.valueOf(kvp[1])
                    : kvp[1].matches("-?\\d*\\.\\d+") ? (Object) Double.valueOf(kvp[1]) : kvp[1];
            kv.put(kvp[0], value);
        }
        return kv;
    }

    /** How many documents' keys the policy's answers start with. */
    private static int retrieved(Generator generator, List<PassKeyDocument> documents, Map<String, Object> kvCache) {
        List<GenerationRequest> requests = new ArrayList<>();
        List<int[]> prompts = new ArrayList<>();
        for (PassKeyDocument d : documents) {
            requests.add(new GenerationRequest(d.prompt(), 8, SamplingParams.greedy(), List.of(),
                    PolicyRegistry.create(kvCache)));
            prompts.add(generator.promptTokens(d.prompt()));
        }
        List<GenerationResult> results = new ArrayList<>();
        int batch = 8;
        for (int from = 0; from < requests.size(); from += batch) {
            int to = Math.min(requests.size(), from + batch);
            results.addAll(generator.generateAll(requests.subList(from, to), prompts.subList(from, to), 520));
        }
        int correct = 0;
        for (int i = 0; i < documents.size(); i++) {
            if (results.get(i).text().trim().startsWith(Integer.toString(documents.get(i).key()))) {
                correct++;
            }
        }
        return correct;
    }
}
