package dev.kvlab.experiment;

import dev.kvlab.data.HeldOutText;
import dev.kvlab.data.PassKeyDocuments.PassKeyDocument;
import dev.kvlab.data.PassKeyDocuments;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.PerplexityEvaluator;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.model.Architecture;
import dev.kvlab.serving.web.ApiException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.jfree.chart.JFreeChart;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

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
        Documents documents = new Documents(lengths, depths, trials, seed, filler);
        for (Map<String, Object> kv : grid) {
            double ratio = kv.get("budget_ratio") instanceof Number kept ? 1 - kept.doubleValue() : 0.0;
            for (String task : tasks) {
                boolean passKey = task.equals("passkey");
                cells.add(new Cell(kv, Math.round(ratio * 1e6) / 1e6, task, passKey ? documents : null,
                        passKey ? 0 : tokens).toMap());
            }
        }
        return cells;
    }

    /** The pass-key documents of a cell: {@code trials} per context length and depth, seeded, with one filler. */
    record Documents(List<Integer> contextLengths, List<Double> depths, int trials, long seed, String filler) {}

    /**
     * One policy at one compression ratio on one task: {@code documents} for {@code passkey}, the first
     * {@code tokens} of the text for {@code perplexity}.
     */
    record Cell(Map<String, Object> kvCache, double compressionRatio, String task, Documents documents, int tokens) {

        static Cell of(Map<String, Object> cell) {
            CellFields f = CellFields.of("compression-sweep", cell);
            String task = f.string("task");
            if (task.equals("passkey")) {
                Documents d = new Documents(f.integers("context_lengths"), f.decimals("depths"), f.integer("trials"),
                        f.longValue("seed"), f.string("filler"));
                return new Cell(f.kvCache(), f.decimal("compression_ratio"), task, d, 0);
            }
            return new Cell(f.kvCache(), f.decimal("compression_ratio"), task, null, f.integer("tokens"));
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = CellFields.start(kvCache);
            m.put("compression_ratio", compressionRatio);
            m.put("task", task);
            if (documents != null) {
                m.put("context_lengths", documents.contextLengths());
                m.put("depths", documents.depths());
                m.put("trials", documents.trials());
                m.put("seed", documents.seed());
                m.put("filler", documents.filler());
            } else {
                m.put("tokens", tokens);
            }
            return m;
        }
    }

    @Override
    public Map<String, Object> run(Map<String, Object> stored, Map<String, Object> params) {
        Cell cell = Cell.of(stored);
        return cell.documents() != null ? passKey(cell, cell.documents(), params) : perplexity(cell, params);
    }

    private Map<String, Object> perplexity(Cell cell, Map<String, Object> params) {
        int[] tokens = engine.tokens(params.get("text") instanceof String text ? text : null, cell.tokens());
        PerplexityEvaluator.Result r = new PerplexityEvaluator(engine.model()).evaluate(tokens, engine.policy(cell.kvCache()));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("score", r.perplexity());
        out.put("perplexity", r.perplexity());
        out.put("mean_nll", r.meanNll());
        out.put("kept_share", r.cache().fullCacheBytes() == 0 ? 1.0
                : (double) r.cache().bytes() / r.cache().fullCacheBytes());
        out.put("seconds", r.nanos() / 1e9);
        return out;
    }

    private Map<String, Object> passKey(Cell cell, Documents spec, Map<String, Object> params) {
        long start = System.nanoTime();
        String fillerText = params.get("filler_text") instanceof String text ? text : null;
        PassKeyDocuments documents = new PassKeyDocuments(fillerSentences(spec.filler(), fillerText),
                text -> engine.generator().tokenizer().encode(text).length);
        List<PassKeyDocument> docs = new ArrayList<>();
        for (int length : spec.contextLengths()) {
            for (double depth : spec.depths()) {
                for (int t = 0; t < spec.trials(); t++) {
                    long docSeed = spec.seed() * 1_000_003L + length * 1_009L + Math.round(depth * 1000) * 31L + t;
                    docs.add(documents.generate(length, depth, new SplittableRandom(docSeed)));
                }
            }
        }
        int correct = 0;
        for (int from = 0; from < docs.size(); from += BATCH) {
            ExperimentEngine.checkCancelled();
            List<PassKeyDocument> batch = docs.subList(from, Math.min(docs.size(), from + BATCH));
            List<GenerationRequest> requests = new ArrayList<>();
            List<int[]> prompts = new ArrayList<>();
            for (PassKeyDocument d : batch) {
                requests.add(new GenerationRequest(d.prompt(), ANSWER_TOKENS, SamplingParams.greedy(), List.of(),
                        engine.policy(cell.kvCache())));
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
            default -> PassKeyDocuments.sentences(HeldOutText.builtIn());
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

    /** Per task, score against compression ratio, one line per policy. */
    @Override
    public Map<String, JFreeChart> charts(List<Map<String, Object>> rows) {
        Map<String, JFreeChart> charts = new LinkedHashMap<>();
        sweepChart(charts, rows, "passkey", "Pass-key accuracy against compression ratio", "pass-key accuracy");
        sweepChart(charts, rows, "perplexity", "Perplexity against compression ratio", "perplexity");
        return charts;
    }

    /**
     * One task of a compression sweep, as kvpress plots it: score against the share of the cache
     * removed, one line per policy (and its parameters), {@code full} as a flat reference line.
     */
    private static void sweepChart(Map<String, JFreeChart> charts, List<Map<String, Object>> rows, String task,
            String title, String score) {
        XYSeriesCollection data = new XYSeriesCollection();
        Map<String, XYSeries> byPolicy = new LinkedHashMap<>();
        Set<Double> ratios = new TreeSet<>();
        Double full = null;
        for (Map<String, Object> row : rows) {
            if (!task.equals(row.get("task")) || !(row.get("score") instanceof Number s)) {
                continue;
            }
            Map<String, Object> kv = new LinkedHashMap<>(ReportCharts.map(row.get("kv_cache")));
            if ("full".equals(kv.get("policy"))) {
                full = s.doubleValue();
                continue;
            }
            kv.remove("budget_ratio");
            String name = kv.remove("policy") + (kv.isEmpty() ? "" : " " + kv);
            double ratio = ReportCharts.num(row.get("compression_ratio"));
            ratios.add(ratio);
            byPolicy.computeIfAbsent(name, k -> new XYSeries(k, true, true)).add(ratio, s.doubleValue());
        }
        if (byPolicy.isEmpty()) {
            return;
        }
        if (full != null) {
            XYSeries f = new XYSeries("full", true, true);
            for (double r : ratios) {
                f.add(r, full);
            }
            data.addSeries(f);
        }
        byPolicy.values().forEach(data::addSeries);
        charts.put(title, ReportCharts.lines(title, "compression ratio (share of the cache removed)", score, data));
    }
}
