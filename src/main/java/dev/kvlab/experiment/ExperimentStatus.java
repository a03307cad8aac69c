package dev.kvlab.experiment;

import java.util.Locale;

/** Status of an experiment or of one of its cells, as the API spells it ({@code queued}, …). */
public enum ExperimentStatus {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED;

    public String apiName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static ExperimentStatus of(String apiName) {
        return valueOf(apiName.toUpperCase(Locale.ROOT));
    }

    public boolean isFinished() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
