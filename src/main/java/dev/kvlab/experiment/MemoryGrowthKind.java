package dev.kvlab.experiment;

import dev.kvlab.cache.CacheStats;
import dev.kvlab.cache.KvCache;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jfree.chart.JFreeChart;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * {@code memory-growth}: KV bytes, stored tokens and device memory (process RSS on CPU) against
 * generated tokens, one cell per policy: a {@code prompt_tokens} [16]-token held-out prompt, then
 * {@code max_new_tokens} [512] greedy tokens, sampled every {@code every} [32] tokens. The curve of a
 * full cache rises linearly; a bounded policy's flattens at its budget.
 */
final class MemoryGrowthKind implements ExperimentKind {

    private final ExperimentEngine engine;
    private final int maxLength;

    MemoryGrowthKind(ExperimentEngine engine, int maxLength) {
        this.engine = engine;
        this.maxLength = maxLength;
    }

    @Override
    public String name() {
        return "memory-growth";
    }

    @Override
    public List<Map<String, Object>> plan(ExperimentParams params, List<Map<String, Object>> policies) {
        int maxNew = params.integer("max_new_tokens", Math.min(512, maxLength), 1, maxLength);
        int every = params.integer("every", Math.min(32, maxNew), 1, maxNew);
        int prompt = params.integer("prompt_tokens", 16, 1, maxLength);
        params.rejectUnknown();
        List<Map<String, Object>> cells = new ArrayList<>();
        for (Map<String, Object> policy : PolicyGrid.expand(policies, null, engine.model().config().architecture())) {
            cells.add(new Cell(policy, maxNew, every, prompt).toMap());
        }
        return cells;
    }

    /** One policy's growth curve: a {@code promptTokens} prompt, {@code maxNewTokens} generated, sampled {@code every}. */
    record Cell(Map<String, Object> kvCache, int maxNewTokens, int every, int promptTokens) {

        static Cell of(Map<String, Object> cell) {
            CellFields f = CellFields.of("memory-growth", cell);
            return new Cell(f.kvCache(), f.integer("max_new_tokens"), f.integer("every"), f.integer("prompt_tokens"));
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = CellFields.start(kvCache);
            m.put("max_new_tokens", maxNewTokens);
            m.put("every", every);
            m.put("prompt_tokens", promptTokens);
            return m;
        }
    }

    @Override
    public Map<String, Object> run(Map<String, Object> stored, Map<String, Object> params) {
        Cell cell = Cell.of(stored);
        int maxNew = cell.maxNewTokens();
        int every = cell.every();
        int[] prompt = engine.tokens(null, cell.promptTokens());
        List<Map<String, Object>> samples = new ArrayList<>();
        int[] generated = {0};
        try (KvCache cache = engine.model().newCache(engine.policy(cell.kvCache()), engine.generator().prefillChunk())) {
            engine.prefillAndDecode(prompt, maxNew, cache, (c, phase) -> {
                if (phase == ExperimentEngine.Phase.PREFILL) {
                    return;
                }
                generated[0]++;
                if (generated[0] % every == 0 || generated[0] == maxNew) {
                    samples.add(sample(generated[0], c.stats()));
                }
            });
            CacheStats last = cache.stats();
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("final_bytes", last.bytes());
            out.put("peak_bytes", last.peakBytes());
            out.put("full_cache_bytes", last.fullCacheBytes());
            out.put("compression_ratio", last.compressionRatio());
            out.put("samples", samples);
            return out;
        }
    }

    /** KV bytes against generated tokens, one line per policy. */
    @Override
    public Map<String, JFreeChart> charts(List<Map<String, Object>> rows) {
        XYSeriesCollection data = new XYSeriesCollection();
        for (Map<String, Object> row : rows) {
            XYSeries s = new XYSeries(ReportCharts.label(row), false, true);
            for (Map<String, Object> sample : ReportCharts.list(row.get("samples"))) {
                s.add(ReportCharts.num(sample.get("generated_tokens")), ReportCharts.num(sample.get("kv_bytes")) / 1024.0);
            }
            data.addSeries(s);
        }
        return Map.of("KV cache memory against generated tokens",
                ReportCharts.lines("KV cache memory growth", "generated tokens", "KV cache (KiB)", data));
    }

    private Map<String, Object> sample(int generated, CacheStats stats) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("generated_tokens", generated);
        s.put("seen_tokens", stats.seenTokens());
        s.put("stored_tokens", stats.storedTokens());
        s.put("kv_bytes", stats.bytes());
        s.put("full_cache_bytes", stats.fullCacheBytes());
        s.put("device_memory_bytes", engine.probe().snapshot().usedBytes());
        return s;
    }
}
