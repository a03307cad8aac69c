package dev.kvlab.experiment;

import dev.kvlab.cache.CacheStats;
import dev.kvlab.generation.PerplexityEvaluator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jfree.chart.JFreeChart;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * {@code perplexity}: token-by-token perplexity ({@link PerplexityEvaluator}) of the first
 * {@code tokens} [2048] tokens of the built-in held-out corpus, or of a supplied {@code text}, for each
 * policy × {@code budgets}. A {@code full} cell is always included, so every row reports its
 * relative change against the uncompressed cache.
 */
final class PerplexityKind implements ExperimentKind {

    private final ExperimentEngine engine;
    private final int maxLength;

    PerplexityKind(ExperimentEngine engine, int maxLength) {
        this.engine = engine;
        this.maxLength = maxLength;
    }

    @Override
    public String name() {
        return "perplexity";
    }

    @Override
    public List<Map<String, Object>> plan(ExperimentParams params, List<Map<String, Object>> policies) {
        List<Integer> budgets = params.integers("budgets", List.of(), 1, maxLength);
        int tokens = params.integer("tokens", Math.min(2048, maxLength), 2, maxLength);
        params.string("text", null);
        params.rejectUnknown();
        List<Map<String, Object>> grid = new ArrayList<>(PolicyGrid.expand(policies,
                budgets.isEmpty() ? null : budgets, engine.model().config().architecture()));
        if (grid.stream().noneMatch(p -> "full".equals(p.get("policy")))) {
            grid.add(0, Map.of("policy", "full"));
        }
        List<Map<String, Object>> cells = new ArrayList<>();
        for (Map<String, Object> policy : grid) {
            cells.add(new Cell(policy, tokens).toMap());
        }
        return cells;
    }

    /** One policy's perplexity over the first {@code tokens} tokens of the text. */
    record Cell(Map<String, Object> kvCache, int tokens) {

        static Cell of(Map<String, Object> cell) {
            CellFields f = CellFields.of("perplexity", cell);
            return new Cell(f.kvCache(), f.integer("tokens"));
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = CellFields.start(kvCache);
            m.put("tokens", tokens);
            return m;
        }
    }

    @Override
    public Map<String, Object> run(Map<String, Object> stored, Map<String, Object> params) {
        Cell cell = Cell.of(stored);
        int[] tokens = engine.tokens(params.get("text") instanceof String text ? text : null, cell.tokens());
        PerplexityEvaluator.Result r = new PerplexityEvaluator(engine.model()).evaluate(tokens, engine.policy(cell.kvCache()));
        CacheStats cache = r.cache();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("perplexity", r.perplexity());
        out.put("mean_nll", r.meanNll());
        out.put("predicted_tokens", r.predictedTokens());
        out.put("peak_bytes", cache.peakBytes());
        out.put("full_cache_bytes", cache.fullCacheBytes());
        out.put("compression_ratio", cache.compressionRatio());
        out.put("seconds", r.nanos() / 1e9);
        return out;
    }

    /** Adds {@code ppl_change_vs_full}: perplexity / the full cache's − 1 (0.01 = 1 % worse). */
    @Override
    public List<Map<String, Object>> summarize(List<Map<String, Object>> rows) {
        Double full = rows.stream()
                .filter(r -> "full".equals(r.get("policy")) && r.get("perplexity") instanceof Number)
                .map(r -> ReportCharts.num(r.get("perplexity")))
                .findFirst().orElse(null);
        for (Map<String, Object> row : rows) {
            if (full != null && row.get("perplexity") instanceof Number ppl) {
                row.put("ppl_change_vs_full", ppl.doubleValue() / full - 1);
            }
        }
        return rows;
    }

    /**
     * Perplexity against budget, one line per policy and {@code full} as a flat reference; without
     * budgets (policies as given), a bar per policy.
     */
    @Override
    public Map<String, JFreeChart> charts(List<Map<String, Object>> rows) {
        XYSeriesCollection data = new XYSeriesCollection();
        Map<String, XYSeries> byPolicy = new LinkedHashMap<>();
        Set<Double> budgets = new TreeSet<>();
        Double full = null;
        for (Map<String, Object> row : rows) {
            Map<String, Object> kv = ReportCharts.map(row.get("kv_cache"));
            if (kv.get("budget") instanceof Number b) {
                budgets.add(b.doubleValue());
                byPolicy.computeIfAbsent(String.valueOf(kv.get("policy")), k -> new XYSeries(k, true, true))
                        .add(b.doubleValue(), ReportCharts.num(row.get("perplexity")));
            } else if ("full".equals(kv.get("policy"))) {
                full = ReportCharts.num(row.get("perplexity"));
            }
        }
        if (full != null && !budgets.isEmpty()) {
            XYSeries f = new XYSeries("full", true, true);
            for (double b : budgets) {
                f.add(b, full);
            }
            data.addSeries(f);
        }
        byPolicy.values().forEach(data::addSeries);
        if (data.getSeriesCount() > 0) {
            return Map.of("Perplexity against budget", ReportCharts.lines("Perplexity against KV budget",
                    "budget (slots per head per layer)", "perplexity", data));
        }
        DefaultCategoryDataset bars = new DefaultCategoryDataset();
        rows.forEach(r -> bars.addValue(ReportCharts.num(r.get("perplexity")), "perplexity", ReportCharts.label(r)));
        return Map.of("Perplexity per policy",
                ReportCharts.bars("Perplexity per policy", "policy", "perplexity", bars, false));
    }
}
