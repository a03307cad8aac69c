package dev.kvlab.model;

/**
 * A model folder kvlab cannot run: a missing file, or a {@code config.json} field that is absent,
 * malformed or asks for something not implemented (e.g. a sliding window). {@link #field()} names
 * what is at fault so the caller can point the user at it.
 */
public class UnsupportedModelException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String field;

    public UnsupportedModelException(String field, String message) {
        super(message);
        this.field = field;
    }

    public UnsupportedModelException(String field, String message, Throwable cause) {
        super(message, cause);
        this.field = field;
    }

    /**
     * The config field (dotted when nested, e.g. {@code rope_scaling.rope_type}) or the file (e.g.
     * {@code tokenizer.json}) at fault; null when the model folder itself is missing.
     */
    public String field() {
        return field;
    }
}
