package dev.kvlab.training.model;

/**
 * Linear warm-up to the peak rate, then a cosine decay to {@code minRatio × peak} at the last step:
 * the usual schedule for small language models, which keeps early updates from blowing up the
 * freshly initialized attention and ends training with small, averaging steps.
 *
 * @param peak the learning rate after warm-up
 * @param minRatio the final rate as a fraction of the peak
 * @param warmupSteps steps of linear warm-up (step 1 uses peak / warmupSteps)
 * @param totalSteps the step at which the cosine reaches its minimum
 */
public record LearningRateSchedule(double peak, double minRatio, int warmupSteps, int totalSteps) {

    public LearningRateSchedule {
        if (peak <= 0 || minRatio < 0 || minRatio > 1 || warmupSteps < 0 || totalSteps < 1) {
            throw new IllegalArgumentException("bad schedule: peak " + peak + ", min ratio " + minRatio + ", warm-up "
                    + warmupSteps + ", total " + totalSteps);
        }
    }

    /** The rate of optimizer step {@code step} (1-based). */
    public double at(int step) {
        if (step <= warmupSteps) {
            return peak * step / warmupSteps;
        }
        int decaySteps = Math.max(1, totalSteps - warmupSteps);
        double progress = Math.min(1.0, (double) (step - warmupSteps) / decaySteps);
        double cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
        return peak * (minRatio + (1 - minRatio) * cosine);
    }
}
