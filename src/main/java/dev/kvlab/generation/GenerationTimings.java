package dev.kvlab.generation;

/** Wall-clock phases of one generation, in nanoseconds; time to first token includes the prefill. */
public record GenerationTimings(long prefillNanos, long decodeNanos, long timeToFirstTokenNanos, int decodedTokens) {

    /** Decode speed: generated tokens after the first over the decode time (0 when nothing was decoded). */
    public double tokensPerSecond() {
        return decodeNanos <= 0 ? 0.0 : decodedTokens / (decodeNanos / 1e9);
    }
}
