package dev.kvlab.serving.generate;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kvlab.cache.CacheMap;
import dev.kvlab.cache.CacheStats;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.GenerationTimings;
import dev.kvlab.metrics.DeviceMemoryProbe;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The answer of {@code POST /generate} (DESIGN §5): the text, why it ended, token counts, where the
 * time went, what the KV cache held and how much memory the device holds. {@code engine} is the
 * engine's result itself, for answers that need more of it (log-probabilities); it is not written.
 */
public record GenerateResponse(
        @JsonProperty("id") String id,
        @JsonProperty("text") String text,
        @JsonProperty("finish_reason") String finishReason,
        @JsonProperty("usage") Usage usage,
        @JsonProperty("timings") Timings timings,
        @JsonProperty("kv_cache") KvCache kvCache,
        @JsonProperty("memory") Memory memory,
        @JsonProperty("cache_map") @JsonInclude(JsonInclude.Include.NON_NULL) CacheMapBody cacheMap,
        @JsonIgnore GenerationResult engine) {

    public record Usage(
            @JsonProperty("prompt_tokens") int promptTokens,
            @JsonProperty("completion_tokens") int completionTokens) {}

    /**
     * Milliseconds; {@code ttft_ms} runs from the request's arrival (queueing included) to its first
     * token; {@code tokens_per_second} is the decode rate after the first token.
     */
    record Timings(
            @JsonProperty("queue_ms") double queueMs,
            @JsonProperty("prefill_ms") double prefillMs,
            @JsonProperty("decode_ms") double decodeMs,
            @JsonProperty("ttft_ms") double ttftMs,
            @JsonProperty("tokens_per_second") double tokensPerSecond) {}

    public record KvCache(
            @JsonProperty("policy") String policy,
            @JsonProperty("params") Map<String, Object> params,
            @JsonProperty("seen_tokens") long seenTokens,
            @JsonProperty("stored_tokens") long storedTokens,
            @JsonProperty("bytes") long bytes,
            @JsonProperty("peak_bytes") long peakBytes,
            @JsonProperty("full_cache_bytes") long fullCacheBytes,
            @JsonProperty("compression_ratio") double compressionRatio,
            @JsonProperty("evicted") long evicted,
            @JsonProperty("merged") long merged) {

        static KvCache of(CacheStats s) {
            return new KvCache(s.policy(), s.params(), s.seenTokens(), s.storedTokens(), s.bytes(), s.peakBytes(),
                    s.fullCacheBytes(), s.compressionRatio(), s.evicted(), s.merged());
        }
    }

    record Memory(
            @JsonProperty("device") String device,
            @JsonProperty("used_bytes") long usedBytes,
            @JsonProperty("total_bytes") long totalBytes) {

        static Memory of(DeviceMemoryProbe.Snapshot s) {
            return new Memory(s.device(), s.usedBytes(), s.totalBytes());
        }
    }

    /**
     * What the cache held at the end ({@code return_cache_map}): per layer, per KV head, the original
     * positions of the stored slots as runs {@code [first, length]} in ascending order, and the
     * positions whose slot stands for several merged tokens with that count.
     */
    record CacheMapBody(
            @JsonProperty("seen_tokens") long seenTokens,
            @JsonProperty("layers") List<List<HeadBody>> layers) {

        record HeadBody(
                @JsonProperty("kept") List<int[]> kept,
                @JsonProperty("merged") Map<String, Integer> merged) {}

        static CacheMapBody of(CacheMap map) {
            List<List<HeadBody>> layers = new ArrayList<>();
            for (List<CacheMap.Head> heads : map.layers()) {
                List<HeadBody> out = new ArrayList<>();
                for (CacheMap.Head head : heads) {
                    out.add(head(head));
                }
                layers.add(out);
            }
            return new CacheMapBody(map.seenTokens(), layers);
        }

        private static HeadBody head(CacheMap.Head head) {
            Integer[] order = new Integer[head.positions().length];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            Arrays.sort(order, Comparator.comparingInt(i -> head.positions()[i]));
            List<int[]> runs = new ArrayList<>();
            Map<String, Integer> merged = new TreeMap<>(Comparator.comparingInt(Integer::parseInt));
            for (int i : order) {
                int p = head.positions()[i];
                int[] last = runs.isEmpty() ? null : runs.get(runs.size() - 1);
                if (last != null && last[0] + last[1] == p) {
                    last[1]++;
                } else {
                    runs.add(new int[] {p, 1});
                }
                int n = Math.round(head.counts()[i]);
                if (n > 1) {
                    merged.put(Integer.toString(p), n);
                }
            }
            return new HeadBody(runs, merged);
        }
    }

    static GenerateResponse of(String id, GenerationResult result, long queueNanos, DeviceMemoryProbe.Snapshot memory) {
        GenerationTimings t = result.timings();
        Timings timings = new Timings(millis(queueNanos), millis(t.prefillNanos()), millis(t.decodeNanos()),
                millis(queueNanos + t.timeToFirstTokenNanos()), Math.round(t.tokensPerSecond() * 100) / 100.0);
        return new GenerateResponse(id, result.text(), result.finishReason().apiName(),
                new Usage(result.promptTokens(), result.completionTokens()), timings, KvCache.of(result.cache()),
                Memory.of(memory), result.cacheMap() == null ? null : CacheMapBody.of(result.cacheMap()), result);
    }

    /** Nanoseconds as milliseconds with microsecond precision. */
    static double millis(long nanos) {
        return Math.round(nanos / 1_000.0) / 1_000.0;
    }
}
