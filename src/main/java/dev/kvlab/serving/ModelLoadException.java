package dev.kvlab.serving;

import java.nio.file.Path;

/**
 * The configured model could not be loaded at start-up. Carries the folder and, when the engine
 * knows it, the {@code config.json} field or file at fault, so the start-up failure report can tell
 * the operator exactly what to fix.
 */
public class ModelLoadException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final transient Path dir;
    private final String field;

    public ModelLoadException(Path dir, String field, String reason, Throwable cause) {
        super("cannot load the model from " + dir.toAbsolutePath() + (field == null ? "" : " (field " + field + ")")
                + ": " + reason, cause);
        this.dir = dir;
        this.field = field;
    }

    public Path dir() {
        return dir;
    }

    /** The config field or file at fault, e.g. {@code rope_scaling.rope_type}; null when unknown. */
    public String field() {
        return field;
    }
}
