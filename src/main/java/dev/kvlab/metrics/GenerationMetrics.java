package dev.kvlab.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;

/**
 * The per-request meters of DESIGN §6 that exist so far: prompt and generated tokens per policy, time
 * to first token and request duration. Prometheus shows them as {@code kvlab_prompt_tokens_total},
 * {@code kvlab_generated_tokens_total}, {@code kvlab_time_to_first_token_seconds} and
 * {@code kvlab_request_duration_seconds}.
 */
public final class GenerationMetrics {

    private final MeterRegistry registry;
    private final Timer timeToFirstToken;
    private final Timer requestDuration;

    public GenerationMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.timeToFirstToken = Timer.builder("kvlab.time.to.first.token")
                .description("Time from a request's arrival (queueing included) to its first generated token")
                .publishPercentileHistogram()
                .register(registry);
        this.requestDuration = Timer.builder("kvlab.request.duration")
                .description("Time from a generation request's arrival to its last token")
                .publishPercentileHistogram()
                .register(registry);
    }

    /** Records one finished generation. */
    public void recordGeneration(String policy, int promptTokens, int completionTokens, Duration timeToFirstToken,
            Duration total) {
        counter("kvlab.prompt.tokens", "Prompt tokens prefilled", policy).increment(promptTokens);
        counter("kvlab.generated.tokens", "Tokens generated", policy).increment(completionTokens);
        this.timeToFirstToken.record(timeToFirstToken);
        this.requestDuration.record(total);
    }

    private Counter counter(String name, String description, String policy) {
        return Counter.builder(name).description(description).tag("policy", policy).register(registry);
    }
}
