package dev.kvlab.bench;

import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.data.HeldOutText;
import dev.kvlab.generation.PerplexityEvaluator;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.tokenizer.TextTokenizer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Prints the token-by-token perplexity of every policy at budgets 128 and 256 over the first 2048
 * tokens of the built-in held-out text, against {@code full}: a harness, not a test.
 *
 * <pre>{@code ./mvnw -q -Pbench -Dbench.main=dev.kvlab.bench.PolicyPerplexityBenchmark -Dbench.args="models/kvlab-tiny 2048"}</pre>
 *
 * A third argument, {@code --policies} followed by {@code name:key=value:…} entries separated by commas
 * (as {@link PolicyPassKeyBenchmark} takes them), replaces the policy list, e.g.
 * {@code full:quantization=int8,h2o:budget=256:quantization=int4}.
 */
public final class PolicyPerplexityBenchmark {
    private PolicyPerplexityBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "models/kvlab-tiny");
        int length = args.length > 1 ? Integer.parseInt(args[1]) : 2048;
        List<String> entries = args.length > 3 && args[2].equals("--policies") ? List.of(args[3].split(",")) : null;
        ModelFolder folder = ModelFolder.open(dir);
        String text = HeldOutText.builtIn();
        try (TransformerModel model = ModelLoader.load(dir, new ModelLoader.Options("cpu", null));
                TextTokenizer tokenizer = TextTokenizer.load(folder.tokenizerFile())) {
            int[] body = tokenizer.encode(text.substring(0, Math.min(text.length(), length * 8)));
            int[] tokens = new int[length];
            int offset = 0;
            if (folder.promptBosTokenId() != null) {
                tokens[0] = folder.promptBosTokenId();
                offset = 1;
            }
            System.arraycopy(body, 0, tokens, offset, length - offset);
            PerplexityEvaluator evaluator = new PerplexityEvaluator(model);
            PerplexityEvaluator.Result full = evaluator.evaluate(tokens, new FullPolicy());
            System.out.printf("held-out tokens %d, model %s%n", tokens.length, dir.getFileName());
            System.out.println("| policy | budget | perplexity | vs full | peak KV bytes | time |");
            System.out.println("|---|---|---|---|---|---|");
            print("full", "—", full, full);
            if (entries != null) {
                for (String entry : entries) {
                    Map<String, Object> kv = PolicyPassKeyBenchmark.kvCache(entry);
                    print(entry, String.valueOf(kv.getOrDefault("budget", "—")), evaluator.evaluate(tokens,
                            PolicyRegistry.create(kv, model.config().architecture())), full);
                }
                return;
            }
            for (int budget : new int[] {128, 256}) {
                for (Map.Entry<String, Map<String, Object>> p : policies(budget).entrySet()) {
                    print(p.getKey(), String.valueOf(budget), evaluator.evaluate(tokens, PolicyRegistry.create(
                            p.getValue(), model.config().architecture())), full);
                }
            }
        }
    }

    private static Map<String, Map<String, Object>> policies(int budget) {
        Map<String, Map<String, Object>> all = new LinkedHashMap<>();
        for (String name : List.of("streaming", "h2o", "tova", "entropy-merge", "random")) {
            all.put(name, Map.of("policy", name, "budget", budget));
        }
        all.put("streaming (rope original)", Map.of("policy", "streaming", "budget", budget, "rope", "original"));
        all.put("entropy-merge (priority attention)",
                Map.of("policy", "entropy-merge", "budget", budget, "priority", "attention"));
        all.put("h2o (compact_every 16)", Map.of("policy", "h2o", "budget", budget, "compact_every", 16));
        all.put("entropy-merge (compact_every 16)",
                Map.of("policy", "entropy-merge", "budget", budget, "compact_every", 16));
        return all;
    }

    private static void print(String policy, String budget, PerplexityEvaluator.Result r,
            PerplexityEvaluator.Result full) {
        System.out.printf("| %s | %s | %.2f | %+.1f %% | %,d | %.1f s |%n", policy, budget, r.perplexity(),
                100 * (r.perplexity() / full.perplexity() - 1), r.cache().peakBytes(), r.nanos() / 1e9);
    }
}
