package dev.kvlab.experiment;

import dev.kvlab.cache.CacheStats;
import dev.kvlab.generation.PerplexityEvaluator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
            cells.add(Map.of("kv_cache", policy, "tokens", tokens));
        }
        return cells;
    }

    @Override
    public Map<String, Object> run(Map<String, Object> cell, Map<String, Object> params) {
        int[] tokens = engine.tokens((String) params.get("text"), ((Number) cell.get("tokens")).intValue());
        PerplexityEvaluator.Result r = new PerplexityEvaluator(engine.model())
                .evaluate(tokens, PolicyGrid.create(cell, engine.model().config().architecture()));
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
                .map(r -> ((Number) r.get("perplexity")).doubleValue())
                .findFirst().orElse(null);
        for (Map<String, Object> row : rows) {
            if (full != null && row.get("perplexity") instanceof Number ppl) {
                row.put("ppl_change_vs_full", ppl.doubleValue() / full - 1);
            }
        }
        return rows;
    }
}
