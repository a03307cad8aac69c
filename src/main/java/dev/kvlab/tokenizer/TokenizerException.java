package dev.kvlab.tokenizer;

/** A tokenizer that cannot be used: missing or corrupt {@code tokenizer.json}, or a closed tokenizer. */
public class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
