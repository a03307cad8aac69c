package dev.kvlab.model;

/** A sequence longer than the model can represent, e.g. GPT-2 past its learned positions. */
public class ContextOverflowException extends RuntimeException {
    private final long limit;

    public ContextOverflowException(String message, long limit) {
        super(message);
        this.limit = limit;
    }

    public long limit() {
        return limit;
    }
}
