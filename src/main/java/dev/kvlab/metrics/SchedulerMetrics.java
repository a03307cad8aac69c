package dev.kvlab.metrics;

import dev.kvlab.generation.StepScheduler;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.TimeUnit;

/**
 * The scheduler's meters: {@code kvlab_batch_size} (sequences per step) and {@code kvlab_batch_tokens}
 * (tokens per step) as histograms, {@code kvlab_scheduler_steps_total}, and
 * {@code kvlab_scheduler_step_seconds} (one forward pass with its commits and sampling). Recorded
 * on the scheduler thread after every step.
 */
public final class SchedulerMetrics implements StepScheduler.StepObserver {
    private final DistributionSummary batchSize;
    private final DistributionSummary batchTokens;
    private final Counter steps;
    private final Timer stepTime;

    public SchedulerMetrics(MeterRegistry registry, int maxSequences, int maxBatchTokens) {
        this.batchSize = DistributionSummary.builder("kvlab.batch.size")
                .description("Sequences in one scheduler step")
                .serviceLevelObjectives(buckets(maxSequences))
                .register(registry);
        this.batchTokens = DistributionSummary.builder("kvlab.batch.tokens")
                .description("Tokens fed to the model in one scheduler step (decode rows plus a prompt chunk)")
                .publishPercentileHistogram()
                .minimumExpectedValue(1.0)
                .maximumExpectedValue((double) Math.max(2, maxBatchTokens))
                .register(registry);
        this.steps = Counter.builder("kvlab.scheduler.steps").description("Scheduler steps (forward passes)")
                .register(registry);
        this.stepTime = Timer.builder("kvlab.scheduler.step")
                .description("Time of one scheduler step: the batched forward pass, cache commits and sampling")
                .publishPercentileHistogram()
                .register(registry);
    }

    /** One bucket per batch size up to {@code max}: the batch size is small and every value matters. */
    private static double[] buckets(int max) {
        double[] b = new double[max];
        for (int i = 0; i < max; i++) {
            b[i] = i + 1;
        }
        return b;
    }

    @Override
    public void onStep(int sequences, int tokens, long nanos) {
        batchSize.record(sequences);
        batchTokens.record(tokens);
        steps.increment();
        stepTime.record(nanos, TimeUnit.NANOSECONDS);
    }
}
