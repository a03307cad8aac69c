package dev.kvlab.experiment;

import dev.kvlab.cache.KvCache;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code throughput}: prefill and decode tokens/s per policy × {@code context_lengths} [512, 1024,
 * 2048], decoding {@code decode_tokens} [32] greedily after a prompt of held-out text.
 */
final class ThroughputKind implements ExperimentKind {

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
        params.rejectUnknown();
        List<Map<String, Object>> cells = new ArrayList<>();
        for (Map<String, Object> policy : PolicyGrid.expand(policies, null, engine.model().config().architecture())) {
            for (int length : lengths) {
                cells.add(Map.of("kv_cache", policy, "context_length", length, "decode_tokens", decode));
            }
        }
        return cells;
    }

    @Override
    public Map<String, Object> run(Map<String, Object> cell, Map<String, Object> params) {
        int length = ((Number) cell.get("context_length")).intValue();
        int decode = ((Number) cell.get("decode_tokens")).intValue();
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
            return out;
        }
    }
}
