package dev.kvlab.training.model;

/**
 * Linear warm-up to the peak rate, then a cosine decay to {@code minRatio × peak} as training
 * progresses: the usual schedule for small language models, which keeps early updates from
 * blowing up the freshly initialized attention and ends training with small, averaging steps.
 * Progress is the fraction of the step budget done, or of the time budget when training is
 * limited by wall time (so a run sized in minutes still ends its schedule).
 *
 * @param peak the learning rate after warm-up
 * @param minRatio the final rate as a fraction of the peak
 * @param warmupSteps steps of linear warm-up (step 1 uses peak / warmupSteps)
 * @param totalSteps the step budget
 */
public record LearningRateSchedule(double peak, double minRatio, int warmupSteps, int totalSteps) {

    public LearningRateSchedule {
        if (peak <= 0 || minRatio < 0 || minRatio > 1 || warmupSteps < 0 || totalSteps < 1) {
            throw new IllegalArgumentException("bad schedule: peak " + peak + ", min ratio " + minRatio + ", warm-up "
                    + warmupSteps + ", total " + totalSteps);
        }
    }

    /** The rate of optimizer step {@code step} (1-based) of a step-limited run. */
    public double at(int step) {
        return at(step, (double) (step - 1) / totalSteps);
    }

    /**
     * The rate of optimizer step {@code step} (1-based) when {@code progress} ∈ [0, 1] of the budget
     * was done before it.
     */
    public double at(int step, double progress) {
        double warm = step < warmupSteps ? (double) step / warmupSteps : 1.0;
        double p = Math.max(0, Math.min(1, progress));
        double cosine = 0.5 * (1 + Math.cos(Math.PI * p));
        return peak * warm * (minRatio + (1 - minRatio) * cosine);
    }
}
