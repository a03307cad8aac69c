package dev.kvlab.config;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code kvlab.experiments.*}: how experiments are limited and executed.
 *
 * @param maxCells an experiment with more cells (policies × budgets × lengths …) is refused with 400
 * @param maxLength the longest context length (tokens) any experiment parameter may ask for
 * @param threads cells run at once on this instance; 1 keeps the model free for {@code /generate}
 * @param execute false makes this instance accept and report experiments but run no cells
 * @param pollInterval how often the queue is polled for due cells (besides immediate execution)
 * @param heartbeat how often a running cell proves its instance alive; a cell whose instance missed
 *     six heartbeats (killed, partitioned) is run again by another instance
 * @param activationProbe whether {@code oom-sweep} measures the native memory of a forward pass (Linux
 *     CPU) for its activation allowance; off, it uses the shape formula that admission and
 *     {@code /capacity} use, so its predicted thresholds equal theirs
 */
@ConfigurationProperties("kvlab.experiments")
public record ExperimentProperties(
        @DefaultValue("200") int maxCells,
        @DefaultValue("131072") int maxLength,
        @DefaultValue("1") int threads,
        @DefaultValue("true") boolean execute,
        @DefaultValue("2s") Duration pollInterval,
        @DefaultValue("10s") Duration heartbeat,
        @DefaultValue("true") boolean activationProbe) {

    public ExperimentProperties {
        if (maxCells < 1) {
            throw new IllegalArgumentException("kvlab.experiments.max-cells must be >= 1, got " + maxCells);
        }
        if (maxLength < 2) {
            throw new IllegalArgumentException("kvlab.experiments.max-length must be >= 2, got " + maxLength);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("kvlab.experiments.threads must be >= 1, got " + threads);
        }
    }
}
