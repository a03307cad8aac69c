package dev.kvlab.experiment;

import dev.kvlab.cache.CacheStats;
import dev.kvlab.cache.KvCache;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
            cells.add(Map.of("kv_cache", policy, "max_new_tokens", maxNew, "every", every, "prompt_tokens", prompt));
        }
        return cells;
    }

    @Override
    public Map<String, Object> run(Map<String, Object> cell, Map<String, Object> params) {
        int maxNew = ((Number) cell.get("max_new_tokens")).intValue();
        int every = ((Number) cell.get("every")).intValue();
        int[] prompt = engine.tokens(null, ((Number) cell.get("prompt_tokens")).intValue());
        List<Map<String, Object>> samples = new ArrayList<>();
        int[] generated = {0};
        try (KvCache cache = engine.model().newCache(PolicyGrid.create(cell, engine.model().config().architecture()),
                engine.generator().prefillChunk())) {
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
