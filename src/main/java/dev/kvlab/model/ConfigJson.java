package dev.kvlab.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Typed access to one JSON object of a Hugging Face model file, where every failure is an {@link
 * UnsupportedModelException} naming the file and the field. JSON {@code null} counts as absent.
 * Public for the architecture packages, which read their own fields.
 */
public final class ConfigJson {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final String fileName;
    private final String prefix;
    private final JsonNode object;

    private ConfigJson(String fileName, String prefix, JsonNode object) {
        this.fileName = fileName;
        this.prefix = prefix;
        this.object = object;
    }

    static ConfigJson read(Path file) {
        String fileName = file.getFileName().toString();
        try {
            return parse(fileName, Files.readString(file));
        } catch (IOException e) {
            throw new UnsupportedModelException(fileName, "cannot read " + file + ": " + e, e);
        }
    }

    static ConfigJson parse(String fileName, String json) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JacksonException e) {
            throw new UnsupportedModelException(fileName, fileName + " is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new UnsupportedModelException(fileName, fileName + " is not a JSON object");
        }
        return new ConfigJson(fileName, "", root);
    }

    /** The nested object {@code field}, or null when absent. */
    public ConfigJson object(String field) {
        JsonNode node = node(field);
        if (node == null) {
            return null;
        }
        if (!node.isObject()) {
            throw invalid(field, "must be an object, got " + node);
        }
        return new ConfigJson(fileName, prefix + field + ".", node);
    }

    /** The field's node, or null when absent or JSON null. */
    JsonNode node(String field) {
        JsonNode node = object.get(field);
        return node == null || node.isNull() ? null : node;
    }

    public boolean has(String field) {
        return node(field) != null;
    }

    /** Whether the field is present with the value JSON null (not merely absent). */
    boolean isExplicitNull(String field) {
        JsonNode node = object.get(field);
        return node != null && node.isNull();
    }

    public int positiveInt(String field) {
        return positive(field, integer(required(field), field));
    }

    public int positiveInt(String field, int defaultValue) {
        JsonNode node = node(field);
        return node == null ? defaultValue : positive(field, integer(node, field));
    }

    /** A non-negative int, or null when absent (token ids). */
    Integer optionalNonNegativeInt(String field) {
        JsonNode node = node(field);
        if (node == null) {
            return null;
        }
        int value = integer(node, field);
        if (value < 0) {
            throw invalid(field, "must not be negative, got " + value);
        }
        return value;
    }

    public double positiveDouble(String field) {
        return positive(field, number(required(field), field));
    }

    public double positiveDouble(String field, double defaultValue) {
        JsonNode node = node(field);
        return node == null ? defaultValue : positive(field, number(node, field));
    }

    public boolean bool(String field, boolean defaultValue) {
        JsonNode node = node(field);
        if (node == null) {
            return defaultValue;
        }
        if (!node.isBoolean()) {
            throw invalid(field, "must be true or false, got " + node);
        }
        return node.booleanValue();
    }

    public String string(String field, String defaultValue) {
        JsonNode node = node(field);
        if (node == null) {
            return defaultValue;
        }
        if (!node.isString()) {
            throw invalid(field, "must be a string, got " + node);
        }
        return node.stringValue();
    }

    /** An int or a list of ints (as HF writes {@code eos_token_id}); null when absent. */
    int[] intOrIntList(String field) {
        JsonNode node = node(field);
        if (node == null) {
            return null;
        }
        if (!node.isArray()) {
            return new int[] {optionalNonNegativeInt(field)};
        }
        int[] values = new int[node.size()];
        for (int i = 0; i < values.length; i++) {
            JsonNode item = node.get(i);
            if (!item.isIntegralNumber() || !item.canConvertToInt() || item.intValue() < 0) {
                throw invalid(field, "must be a token id or a list of token ids, got " + node);
            }
            values[i] = item.intValue();
        }
        return values;
    }

    /** {@code config.json: rope_scaling.rope_type 'yarn' is not supported (supported: llama3)}. */
    public UnsupportedModelException unsupported(String field, Object value, String supported) {
        return invalid(field, "'" + value + "' is not supported (supported: " + supported + ")");
    }

    /** An error about {@code field}: the message reads "file: field problem". */
    public UnsupportedModelException invalid(String field, String problem) {
        return new UnsupportedModelException(prefix + field, fileName + ": " + prefix + field + " " + problem);
    }

    private JsonNode required(String field) {
        JsonNode node = node(field);
        if (node == null) {
            throw invalid(field, "is required but missing");
        }
        return node;
    }

    private int integer(JsonNode node, String field) {
        if (!node.isIntegralNumber() || !node.canConvertToInt()) {
            throw invalid(field, "must be an integer, got " + node);
        }
        return node.intValue();
    }

    private double number(JsonNode node, String field) {
        if (!node.isNumber()) {
            throw invalid(field, "must be a number, got " + node);
        }
        return node.doubleValue();
    }

    private int positive(String field, int value) {
        if (value <= 0) {
            throw invalid(field, "must be positive, got " + value);
        }
        return value;
    }

    private double positive(String field, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw invalid(field, "must be a positive number, got " + value);
        }
        return value;
    }
}
