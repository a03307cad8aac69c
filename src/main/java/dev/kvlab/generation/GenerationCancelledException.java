package dev.kvlab.generation;

/** The generating thread was interrupted (client gone, timeout, shutdown); the cache has been freed. */
public class GenerationCancelledException extends RuntimeException {
    public GenerationCancelledException(String message) {
        super(message);
    }
}
