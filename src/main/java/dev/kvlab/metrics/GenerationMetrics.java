package dev.kvlab.metrics;

import dev.kvlab.cache.policy.PolicyRegistry;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToLongFunction;

/**
 * The generation meters of DESIGN §6. Counters and histograms: {@code kvlab_prompt_tokens_total},
 * {@code kvlab_generated_tokens_total}, {@code kvlab_cache_evictions_total},
 * {@code kvlab_cache_merges_total} (per policy), {@code kvlab_oom_events_total{policy,phase,source}},
 * {@code kvlab_time_to_first_token_seconds}, {@code kvlab_inter_token_latency_seconds},
 * {@code kvlab_request_duration_seconds}. Live gauges, summed over the requests generating now:
 * {@code kvlab_kv_cache_bytes}, {@code kvlab_kv_cache_tokens}, {@code kvlab_kv_cache_full_bytes}.
 *
 * <p>Every series of every policy is registered at start-up with 0, so dashboards and
 * {@code increase()} work before the first request. A request reports through its own
 * {@link RequestRecorder}, updated on the generating thread after every forward pass, so the cache
 * gauges follow a long generation token by token.
 */
public final class GenerationMetrics {

    /** Where a generation was when memory ran out. */
    public enum Phase { PREFILL, DECODE }

    /** What ran out: the device's own memory, or the configured budget ({@code kvlab.memory.limit}). */
    public enum Source { DEVICE, BUDGET }

    private final MeterRegistry registry;
    private final Timer timeToFirstToken;
    private final Timer interTokenLatency;
    private final Timer requestDuration;
    private final Set<RequestRecorder> live = ConcurrentHashMap.newKeySet();

    public GenerationMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.timeToFirstToken = Timer.builder("kvlab.time.to.first.token")
                .description("Time from a request's arrival (queueing included) to its first generated token")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(5))
                .register(registry);
        this.interTokenLatency = Timer.builder("kvlab.inter.token.latency")
                .description("Time between two consecutive generated tokens of one request")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(10))
                .register(registry);
        this.requestDuration = Timer.builder("kvlab.request.duration")
                .description("Time from a generation request's arrival to its end, however it ended")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(10))
                .register(registry);
        for (String policy : PolicyRegistry.names()) {
            liveGauge("kvlab.kv.cache.bytes", "KV-cache bytes held by the requests generating now", policy,
                    r -> r.bytes);
            liveGauge("kvlab.kv.cache.tokens", "Slots per head stored in the KV caches of the requests generating now",
                    policy, r -> r.storedTokens);
            liveGauge("kvlab.kv.cache.full.bytes",
                    "Bytes a full (uncompressed) cache would hold for the requests generating now", policy,
                    r -> r.fullBytes);
            promptTokens(policy);
            generatedTokens(policy);
            evictions(policy);
            merges(policy);
            for (Phase phase : Phase.values()) {
                for (Source source : Source.values()) {
                    oomEvents(policy, phase, source);
                }
            }
        }
    }

    /** Starts the live figures of one request that is about to generate; close the recorder when it ends. */
    public RequestRecorder start(String policy, long arrivalNanos) {
        RequestRecorder recorder = new RequestRecorder(policy, arrivalNanos);
        live.add(recorder);
        return recorder;
    }

    /** Counts an out-of-memory event: the device raised one, or a request was refused for the memory budget. */
    public void recordOutOfMemory(String policy, Phase phase, Source source) {
        oomEvents(policy, phase, source).increment();
    }

    /** Sum of a live figure over the requests generating now with {@code policy}. */
    long liveSum(String policy, ToLongFunction<RequestRecorder> figure) {
        long sum = 0;
        for (RequestRecorder r : live) {
            if (r.policy.equals(policy)) {
                sum += figure.applyAsLong(r);
            }
        }
        return sum;
    }

    private void liveGauge(String name, String description, String policy, ToLongFunction<RequestRecorder> figure) {
        Gauge.builder(name, this, m -> m.liveSum(policy, figure))
                .description(description)
                .tag("policy", policy)
                .register(registry);
    }

    private Counter promptTokens(String policy) {
        return counter("kvlab.prompt.tokens", "Prompt tokens prefilled", policy);
    }

    private Counter generatedTokens(String policy) {
        return counter("kvlab.generated.tokens", "Tokens generated", policy);
    }

    private Counter evictions(String policy) {
        return counter("kvlab.cache.evictions", "Tokens dropped from KV caches (slots averaged over layers and heads)",
                policy);
    }

    private Counter merges(String policy) {
        return counter("kvlab.cache.merges", "Tokens merged into others in KV caches (slots averaged over layers"
                + " and heads)", policy);
    }

    private Counter oomEvents(String policy, Phase phase, Source source) {
        return Counter.builder("kvlab.oom.events")
                .description("Out-of-memory events: the device ran out (source=device) or a request would have"
                        + " exceeded the memory budget and was refused (source=budget)")
                .tag("policy", policy)
                .tag("phase", phase.name().toLowerCase(Locale.ROOT))
                .tag("source", source.name().toLowerCase(Locale.ROOT))
                .register(registry);
    }

    private Counter counter(String name, String description, String policy) {
        return Counter.builder(name).description(description).tag("policy", policy).register(registry);
    }

    /**
     * One request's contribution to the meters. Written by the generating thread only; the gauges read
     * the volatile figures from the scrape thread.
     */
    public final class RequestRecorder implements AutoCloseable {
        private final String policy;
        private final long arrivalNanos;
        private final Counter generated;
        private volatile long bytes;
        private volatile long storedTokens;
        private volatile long fullBytes;
        private long evicted;
        private long merged;
        private long lastTokenNanos;
        private boolean closed;

        private RequestRecorder(String policy, long arrivalNanos) {
            this.policy = policy;
            this.arrivalNanos = arrivalNanos;
            this.generated = generatedTokens(policy);
        }

        /** The cache after a forward pass; eviction and merge totals are cumulative for the request. */
        public void cacheUpdated(long bytes, long storedTokens, long fullBytes, long evictedTotal, long mergedTotal) {
            this.bytes = bytes;
            this.storedTokens = storedTokens;
            this.fullBytes = fullBytes;
            if (evictedTotal > evicted) {
                evictions(policy).increment(evictedTotal - evicted);
                evicted = evictedTotal;
            }
            if (mergedTotal > merged) {
                merges(policy).increment(mergedTotal - merged);
                merged = mergedTotal;
            }
        }

        public void promptPrefilled(int tokens) {
            promptTokens(policy).increment(tokens);
        }

        /** A token was generated now: counts it and records time to first token or the gap since the last one. */
        public void tokenGenerated() {
            long now = System.nanoTime();
            if (lastTokenNanos == 0) {
                timeToFirstToken.record(Duration.ofNanos(now - arrivalNanos));
            } else {
                interTokenLatency.record(Duration.ofNanos(now - lastTokenNanos));
            }
            lastTokenNanos = now;
            generated.increment();
        }

        /** Whether a token has been generated yet: before that a failure is in the prefill phase. */
        public boolean decoding() {
            return lastTokenNanos != 0;
        }

        /** Ends the request: records its duration and withdraws its cache from the live gauges. */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            live.remove(this);
            bytes = 0;
            storedTokens = 0;
            fullBytes = 0;
            requestDuration.record(Duration.ofNanos(System.nanoTime() - arrivalNanos));
        }
    }
}
