package dev.kvlab.generation;

/**
 * How a request wants its tokens drawn: {@code temperature} 0 means greedy, {@code topK} 0 and
 * {@code topP} 1.0 switch those filters off, and {@code seed} makes the draws reproducible.
 */
public record SamplingParams(double temperature, int topK, double topP, long seed) {

    public SamplingParams {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be finite and >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0 (0 = off), got " + topK);
        }
        if (!(topP >= 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in [0, 1] (1 = off), got " + topP);
        }
    }

    /** Greedy decoding: always the most likely token. */
    public static SamplingParams greedy() {
        return new SamplingParams(0.0, 0, 1.0, 0L);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }
}
