package dev.kvlab.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code kvlab_experiments{status}}: how many experiments are in each status now. Every status is
 * exported from start-up (0 until the experiment service reports counts through {@link #set}).
 */
public final class ExperimentMetrics {

    /** The statuses of DESIGN §5, as the API spells them. */
    public static final List<String> STATUSES = List.of("queued", "running", "succeeded", "failed", "cancelled");

    private final Map<String, AtomicLong> counts = new ConcurrentHashMap<>();

    public ExperimentMetrics(MeterRegistry registry) {
        for (String status : STATUSES) {
            AtomicLong count = new AtomicLong();
            counts.put(status, count);
            Gauge.builder("kvlab.experiments", count, AtomicLong::get)
                    .description("Experiments in each status")
                    .tag("status", status)
                    .register(registry);
        }
    }

    /** Sets how many experiments are in {@code status} (one of {@link #STATUSES}). */
    public void set(String status, long count) {
        AtomicLong c = counts.get(status);
        if (c == null) {
            throw new IllegalArgumentException("unknown experiment status '" + status + "'; known: " + STATUSES);
        }
        c.set(count);
    }
}
