package dev.kvlab.experiment;

import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.Generator;
import dev.kvlab.generation.SamplingParams;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jfree.chart.JFreeChart;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * {@code throughput}: prefill and decode tokens/s per policy × {@code context_lengths} [512, 1024,
 * 2048] × {@code concurrency} [1], decoding {@code decode_tokens} [32] greedily after a prompt of
 * held-out text. At concurrency N, N identical requests run as one batch, every step one forward pass
 * over all of them as the server's scheduler runs them, and the cell reports the aggregate rate
 * beside each sequence's own.
 */
final class ThroughputKind implements ExperimentKind {

    /** Most identical requests in one batch cell. */
    static final int MAX_CONCURRENCY = 256;

    private final ExperimentEngine engine;
    private final int maxLength;

    ThroughputKind(ExperimentEngine engine, int maxLength) {
        this.engine = engine;
        this.maxLength = maxLength;
    }

    @Override
    public String name() {
        return "throughput";
    }

    @Override
    public List<Map<String, Object>> plan(ExperimentParams params, List<Map<String, Object>> policies) {
        List<Integer> lengths = params.integers("context_lengths", List.of(512, 1024, 2048), 1, maxLength);
        int decode = params.integer("decode_tokens", 32, 1, maxLength);
        List<Integer> concurrency = params.integers("concurrency", List.of(1), 1, MAX_CONCURRENCY);
        params.rejectUnknown();
        List<Map<String, Object>> cells = new ArrayList<>();
        for (Map<String, Object> policy : PolicyGrid.expand(policies, null, engine.model().config().architecture())) {
            for (int length : lengths) {
                for (int n : concurrency) {
                    cells.add(new Cell(policy, length, decode, n).toMap());
                }
            }
        }
        return cells;
    }

    /**
     * One policy at one context length and concurrency; cells stored before {@code concurrency} existed
     * ran one sequence.
     */
    record Cell(Map<String, Object> kvCache, int contextLength, int decodeTokens, int concurrency) {

        static Cell of(Map<String, Object> cell) {
            CellFields f = CellFields.of("throughput", cell);
            return new Cell(f.kvCache(), f.integer("context_length"), f.integer("decode_tokens"),
                    f.integer("concurrency", 1));
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = CellFields.start(kvCache);
            m.put("context_length", contextLength);
            m.put("decode_tokens", decodeTokens);
            m.put("concurrency", concurrency);
            return m;
        }
    }

    @Override
    public Map<String, Object> run(Map<String, Object> stored, Map<String, Object> params) {
        Cell cell = Cell.of(stored);
        int length = cell.contextLength();
        int decode = cell.decodeTokens();
        if (cell.concurrency() > 1) {
            return batched(cell, length, decode, cell.concurrency());
        }
        try (KvCache cache = engine.model().newCache(engine.policy(cell.kvCache()), engine.generator().prefillChunk())) {
            ExperimentEngine.Timing t = engine.prefillAndDecode(engine.tokens(null, length), decode, cache,
                    ExperimentEngine.StepObserver.NONE);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("prefill_tokens_per_second", t.prefillTokensPerSecond());
            out.put("decode_tokens_per_second", t.decodeTokensPerSecond());
            out.put("prefill_seconds", t.prefillNanos() / 1e9);
            out.put("decode_seconds", t.decodeNanos() / 1e9);
            out.put("peak_bytes", cache.stats().peakBytes());
            out.put("stored_tokens", cache.storedTokens());
            out.put("concurrency", 1);
            out.put("aggregate_decode_tokens_per_second", t.decodeTokensPerSecond());
            return out;
        }
    }

    /**
     * N identical requests through one batch. The aggregate rate is every generated token over the
     * wall time of the whole batch, prefills included; a sequence's decode rate is its own tokens over
     * its own decode time.
     */
    private Map<String, Object> batched(Cell cell, int length, int decode, int concurrency) {
        int[] prompt = engine.tokens(null, length);
        List<GenerationRequest> requests = new ArrayList<>();
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < concurrency; i++) {
            CachePolicy policy = engine.policy(cell.kvCache());
            requests.add(new GenerationRequest("", decode, SamplingParams.greedy(), List.of(), policy, true));
            prompts.add(prompt);
        }
        Generator generator = engine.generator();
        long start = System.nanoTime();
        List<GenerationResult> results = generator.generateAll(requests, prompts,
                generator.prefillChunk() + concurrency);
        long wall = System.nanoTime() - start;
        double decodeRate = 0;
        double prefillRate = 0;
        long peak = 0;
        long generated = 0;
        for (GenerationResult r : results) {
            decodeRate += r.timings().tokensPerSecond() / concurrency;
            prefillRate += r.promptTokens() / (r.timings().prefillNanos() / 1e9) / concurrency;
            peak = Math.max(peak, r.cache().peakBytes());
            generated += r.completionTokens();
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("prefill_tokens_per_second", prefillRate);
        out.put("decode_tokens_per_second", decodeRate);
        out.put("aggregate_decode_tokens_per_second", generated / (wall / 1e9));
        out.put("concurrency", concurrency);
        out.put("wall_seconds", wall / 1e9);
        out.put("peak_bytes", peak);
        out.put("stored_tokens", results.get(0).cache().storedTokens());
        return out;
    }

    /**
     * Prefill and decode tokens/s against context length (one sequence), and the aggregate decode rate
     * against concurrency where a cell ran batches of several.
     */
    @Override
    public Map<String, JFreeChart> charts(List<Map<String, Object>> rows) {
        XYSeriesCollection prefill = new XYSeriesCollection();
        XYSeriesCollection decode = new XYSeriesCollection();
        XYSeriesCollection aggregate = new XYSeriesCollection();
        Map<String, XYSeries[]> byPolicy = new LinkedHashMap<>();
        Map<String, XYSeries> byPolicyAndLength = new LinkedHashMap<>();
        for (Map<String, Object> row : rows) {
            double concurrency = row.get("concurrency") == null ? 1 : ReportCharts.num(row.get("concurrency"));
            String label = ReportCharts.label(row);
            byPolicyAndLength.computeIfAbsent(label + " @ " + row.get("context_length"), k -> new XYSeries(k, true, true))
                    .add(concurrency, ReportCharts.num(row.get("aggregate_decode_tokens_per_second")));
            if (concurrency != 1) {
                continue;
            }
            XYSeries[] s = byPolicy.computeIfAbsent(label,
                    k -> new XYSeries[] {new XYSeries(k, true, true), new XYSeries(k, true, true)});
            double length = ReportCharts.num(row.get("context_length"));
            s[0].add(length, ReportCharts.num(row.get("prefill_tokens_per_second")));
            s[1].add(length, ReportCharts.num(row.get("decode_tokens_per_second")));
        }
        byPolicy.values().forEach(s -> {
            prefill.addSeries(s[0]);
            decode.addSeries(s[1]);
        });
        byPolicyAndLength.values().forEach(aggregate::addSeries);
        Map<String, JFreeChart> charts = new LinkedHashMap<>();
        if (byPolicyAndLength.values().stream().anyMatch(s -> s.getItemCount() > 1)) {
            charts.put("Aggregate decode throughput against concurrency", ReportCharts.lines(
                    "Aggregate decode tokens/s (all sequences of a batch)", "concurrent sequences", "tokens/s", aggregate));
        }
        charts.put("Decode throughput against context",
                ReportCharts.lines("Decode tokens/s", "context length (tokens)", "tokens/s", decode));
        charts.put("Prefill throughput against context",
                ReportCharts.lines("Prefill tokens/s", "context length (tokens)", "tokens/s", prefill));
        return charts;
    }
}
