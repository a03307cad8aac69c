package dev.kvlab.experiment;

import dev.kvlab.metrics.ExperimentMetrics;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How many experiments are in each status, read from the database (so every replica reports the
 * same), and published to {@code kvlab_experiments{status}} through {@link ExperimentMetrics}.
 */
public class ExperimentCounts {

    private final ExperimentRepository repository;
    private final ExperimentMetrics metrics;

    ExperimentCounts(ExperimentRepository repository, ExperimentMetrics metrics) {
        this.repository = repository;
        this.metrics = metrics;
    }

    /** Experiments per status, every status present ({@code queued} … {@code cancelled}). */
    public Map<String, Long> counts() {
        Map<String, Long> out = new LinkedHashMap<>();
        repository.countsByStatus().forEach((status, count) -> out.put(status.apiName(), count));
        return out;
    }

    /** Reads the counts and sets the gauges. */
    public void publish() {
        counts().forEach(metrics::set);
    }
}
