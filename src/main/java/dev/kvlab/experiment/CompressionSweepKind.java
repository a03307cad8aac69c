package dev.kvlab.experiment;

import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.PerplexityEvaluator;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.model.Architecture;
import dev.kvlab.serving.ApiException;
import dev.kvlab.training.corpus.Corpus;
import dev.kvlab.training.passkey.PassKeyDocuments;
import dev.kvlab.training.passkey.PassKeyDocuments.PassKeyDocument;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * {@code compression-sweep}: each policy at each {@code ratios} [0.1, 0.25, 0.5, 0.75, 0.9] (the
 * share of the cache removed, kvpress's {@code compression_ratio}: the policy keeps
 * {@code budget_ratio = 1 − ratio} of the tokens seen) on each of {@code tasks} [passkey, perplexity],
 * with {@code full} as the reference, so a report plots quality against compression one line per
 * policy, as kvpress's benchmark figures do.
 * <ul>
 * <li>{@code passkey}: {@code context_lengths} [512, 1000] × {@code depths} [0.1, 0.5, 0.9] ×
 *     {@code trials} [3] documents (seeded by {@code seed} [0]) with {@code filler} [held-out]: the
 *     built-in held-out text the shipped model never trained on, {@code repeated} ("The grass is green.
 *     The sky is blue. …") or {@code text} (a supplied {@code filler_text}); greedy answers of 8 tokens,
 *     correct when they start with the key. One cell per policy × ratio; its documents run as batches
 *     through the batched forward pass.</li>
 * <li>{@code perplexity}: token-by-token perplexity ({@link PerplexityEvaluator}) of the first
 *     {@code tokens} [1024] tokens of the held-out corpus or of a supplied {@code text}.</li>
 * </ul>
 */
final class CompressionSweepKind implements ExperimentKind {

    static final List<Double> DEFAULT_RATIOS = List.of(0.1, 0.25, 0.5, 0.75, 0.9);
    private static final int ANSWER_TOKENS = 8;
    private static final int BATCH = 8;

    private final ExperimentEngine engine;
    private final int maxLength;

    CompressionSweepKind(ExperimentEngine engine, int maxLength) {
        this.engine = engine;
        this.maxLength = maxLength;
    }

    @Override
    public String name() {
        return "compression-sweep";
    }

    @Override
    public List<Map<String, Object>> plan(ExperimentParams params, List<Map<String, Object>> policies) {
        List<Double> ratios = params.numbers("ratios", DEFAULT_RATIOS, 0, 0.99);
        List<String> tasks = params.strings("tasks", List.of("passkey", "perplexity"), Set.of("passkey", "perplexity"));
        List<Integer> lengths = params.integers("context_lengths", List.of(Math.min(512, maxLength),
                Math.min(1000, maxLength)), 32, maxLength);
        List<Double> depths = params.numbers("depths", List.of(0.1, 0.5, 0.9), 0, 1);
        int trials = params.integer("trials", 3, 1, 100);
        int seed = params.integer("seed", 0, 0, Integer.MAX_VALUE);
        String filler = params.choice("filler", "held-out", Set.of("held-out", "repeated", "text"));
        String fillerText = params.string("filler_text", null);
        if ("text".equals(filler) != (fillerText != null)) {
            throw ApiException.badRequest("filler_text", "give filler_text exactly when filler is \"text\"");
        }
        int tokens = params.integer("tokens", Math.min(1024, maxLength), 2, maxLength);
        params.string("text", null);
        params.rejectUnknown();

        Architecture architecture = engine.model().config().architecture();
        List<Map<String, Object>> grid = new ArrayList<>();
        grid.add(Map.of("policy", "full"));
        for (int i = 0; i < policies.size(); i++) {
            Map<String, Object> policy = policies.get(i);
            if ("full".equals(policy.getOrDefault("policy", "full"))) {
                continue;
            }
            for (String budget : List.of("budget", "budget_ratio")) {
                if (policy.containsKey(budget)) {
                    throw ApiException.badRequest("policies[" + i + "]." + budget,
                            "the sweep sets each policy's budget_ratio from ratios; leave " + budget + " out");
                }
            }
            for (double ratio : ratios) {
                Map<String, Object> at = new LinkedHashMap<>(policy);
                at.put("budget_ratio", Math.round((1 - ratio) * 1e6) / 1e6); // 1 − 0.9 is 0.09999999999999998
                PolicyGrid.validate(at, architecture, "policies[" + i + "]");
                grid.add(at);
            }
        }
        List<Map<String, Object>> cells = new ArrayList<>();
        for (Map<String, Object> kv : grid) {
            double ratio = kv.get("budget_ratio") instanceof Number kept ? 1 - kept.doubleValue() : 0.0;
            for (String task : tasks) {
                Map<String, Object> cell = new LinkedHashMap<>();
                cell.put("kv_cache", kv);
                cell.put("compression_ratio", Math.round(ratio * 1e6) / 1e6);
                cell.put("task", task);
                if (task.equals("passkey")) {
                    cell.put("context_lengths", lengths);
                    cell.put("depths", depths);
                    cell.put("trials", trials);
                    cell.put("seed", seed);
                    cell.put("filler", filler);
                } else {
                    cell.put("tokens", tokens);
                }
                cells.add(cell);
            }
        }
        return cells;
    }

    @Override
    public Map<String, Object> run(Map<String, Object> cell, Map<String, Object> params) {
        return "passkey".equals(cell.get("task")) ? passKey(cell, params) : perplexity(cell, params);
    }

    private Map<String, Object> perplexity(Map<String, Object> cell, Map<String, Object> params) {
        int[] tokens = engine.tokens((String) params.get("text"), ((Number) cell.get("tokens")).intValue());
        PerplexityEvaluator.Result r = new PerplexityEvaluator(engine.model())
                .evaluate(tokens, PolicyGrid.create(cell, engine.model().config().architecture()));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("score", r.perplexity());
        out.put("perplexity", r.perplexity());
        out.put("mean_nll", r.meanNll());
        out.put("kept_share", r.cache().fullCacheBytes() == 0 ? 1.0
                : (double) r.cache().bytes() / r.cache().fullCacheBytes());
        out.put("seconds", r.nanos() / 1e9);
        return out;
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> passKey(Map<String, Object> cell, Map<String, Object> params) {
        long start = System.nanoTime();
        PassKeyDocuments documents = new PassKeyDocuments(fillerSentences((String) cell.get("filler"),
                (String) params.get("filler_text")), text -> engine.generator().tokenizer().encode(text).length);
        int trials = ((Number) cell.get("trials")).intValue();
        long seed = ((Number) cell.get("seed")).longValue();
        List<PassKeyDocument> docs = new ArrayList<>();
        for (Object length : (List<Object>) cell.get("context_lengths")) {
            for (Object depth : (List<Object>) cell.get("depths")) {
                for (int t = 0; t < trials; t++) {
                    long docSeed = seed * 1_000_003L + ((Number) length).longValue() * 1_009L
                            + Math.round(((Number) depth).doubleValue() * 1000) * 31L + t;
                    docs.add(documents.generate(((Number) length).intValue(), ((Number) depth).doubleValue(),
                            new SplittableRandom(docSeed)));
                }
            }
        }
        Architecture architecture = engine.model().config().architecture();
        int correct = 0;
        for (int from = 0; from < docs.size(); from += BATCH) {
            ExperimentEngine.checkCancelled();
            List<PassKeyDocument> batch = docs.subList(from, Math.min(docs.size(), from + BATCH));
            List<GenerationRequest> requests = new ArrayList<>();
            List<int[]> prompts = new ArrayList<>();
            for (PassKeyDocument d : batch) {
                requests.add(new GenerationRequest(d.prompt(), ANSWER_TOKENS, SamplingParams.greedy(), List.of(),
                        PolicyGrid.create(cell, architecture)));
                prompts.add(engine.generator().promptTokens(d.prompt()));
            }
            List<GenerationResult> results = engine.generator().generateAll(requests, prompts,
                    engine.generator().prefillChunk() + BATCH);
            for (int i = 0; i < batch.size(); i++) {
                if (results.get(i).text().trim().startsWith(Integer.toString(batch.get(i).key()))) {
                    correct++;
                }
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("score", (double) correct / docs.size());
        out.put("accuracy", (double) correct / docs.size());
        out.put("correct", correct);
        out.put("documents", docs.size());
        out.put("seconds", (System.nanoTime() - start) / 1e9);
        return out;
    }

    private static List<String> fillerSentences(String filler, String text) {
        return switch (filler) {
            case "repeated" -> PassKeyDocuments.CLASSIC_FILLER;
            case "text" -> PassKeyDocuments.sentences(text);
            default -> PassKeyDocuments.sentences(Corpus.builtInHeldOut());
        };
    }

    /**
     * Adds {@code score_vs_full} per task: pass-key accuracy over {@code full}'s, and perplexity over
     * {@code full}'s − 1 (0.01 = 1 % worse).
     */
    @Override
    public List<Map<String, Object>> summarize(List<Map<String, Object>> rows) {
        Map<Object, Double> full = new LinkedHashMap<>();
        for (Map<String, Object> row : rows) {
            if ("full".equals(row.get("policy")) && row.get("score") instanceof Number s) {
                full.put(row.get("task"), s.doubleValue());
            }
        }
        for (Map<String, Object> row : rows) {
            Double reference = full.get(row.get("task"));
            if (reference != null && row.get("score") instanceof Number s) {
                double change = "perplexity".equals(row.get("task")) ? s.doubleValue() / reference - 1
                        : reference == 0 ? Double.NaN : s.doubleValue() / reference;
                row.put("score_vs_full", change);
            }
        }
        return rows;
    }
}
