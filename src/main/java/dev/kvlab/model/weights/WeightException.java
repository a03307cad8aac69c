package dev.kvlab.model.weights;

/** A checkpoint that cannot be used: missing tensor, wrong shape, truncated or corrupt file. */
public class WeightException extends RuntimeException {
    public WeightException(String message) {
        super(message);
    }

    public WeightException(String message, Throwable cause) {
        super(message, cause);
    }
}
