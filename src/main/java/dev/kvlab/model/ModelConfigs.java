package dev.kvlab.model;

import java.nio.file.Path;
import java.util.List;

/**
 * Reads a Hugging Face {@code config.json} into a {@link ModelConfig}, refusing anything kvlab would
 * run wrongly (sliding windows, unknown RoPE scaling, other activations) rather than producing
 * garbage. Every refusal is an {@link UnsupportedModelException} naming the field; each
 * architecture's package reads its own fields.
 */
public final class ModelConfigs {

    public static final String CONFIG_FILE = "config.json";

    private ModelConfigs() {}

    /** The Hugging Face {@code architectures} names kvlab runs, e.g. for an error message. */
    public static List<String> supportedArchitectures() {
        return Architectures.supported();
    }

    /** Reads {@code modelDir/config.json}. */
    public static ModelConfig read(Path modelDir) {
        return parse(ConfigJson.read(modelDir.resolve(CONFIG_FILE)));
    }

    /** Parses the text of a {@code config.json}. */
    public static ModelConfig parse(String configJson) {
        return parse(ConfigJson.parse(CONFIG_FILE, configJson));
    }

    static ModelConfig parse(ConfigJson json) {
        return Architectures.parse(json);
    }
}
