package dev.kvlab.tokenizer;

/**
 * A chat template that cannot be read or rendered. When the template itself rejects the
 * conversation through {@code raise_exception(msg)}, the message is the template's {@code msg}, so it
 * can be shown to the client as is.
 */
public class ChatTemplateException extends IllegalArgumentException {

    public ChatTemplateException(String message) {
        super(message);
    }

    public ChatTemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
