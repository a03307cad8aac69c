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
                    cells.add(Map.of("kv_cache", policy, "context_length", length, "decode_tokens", decode,
                            "concurrency", n));
                }
            }
        }
        return cells;
    }

    @Override
    public Map<String, Object> run(Map<String, Object> cell, Map<String, Object> params) {
        int length = ((Number) cell.get("context_length")).intValue();
        int decode = ((Number) cell.get("decode_tokens")).intValue();
        int concurrency = cell.get("concurrency") instanceof Number n ? n.intValue() : 1;
        if (concurrency > 1) {
            return batched(cell, length, decode, concurrency);
        }
        try (KvCache cache = engine.model().newCache(PolicyGrid.create(cell, engine.model().config().architecture()),
                engine.generator().prefillChunk())) {
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
    private Map<String, Object> batched(Map<String, Object> cell, int length, int decode, int concurrency) {
        int[] prompt = engine.tokens(null, length);
        List<GenerationRequest> requests = new ArrayList<>();
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < concurrency; i++) {
            CachePolicy policy = PolicyGrid.create(cell, engine.model().config().architecture());
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
}
