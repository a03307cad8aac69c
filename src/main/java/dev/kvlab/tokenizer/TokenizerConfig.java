package dev.kvlab.tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The chat fields of a Hugging Face {@code tokenizer_config.json}. {@code chat_template} is either the
 * template or a list of {@code {"name", "template"}} objects, of which transformers uses the one named
 * "default"; {@code bos_token} and {@code eos_token} are strings, {@code {"content": ...}} objects (older
 * files) or null. Absent fields are null.
 */
record TokenizerConfig(String chatTemplate, String bosToken, String eosToken) {

    static final String FILE_NAME = "tokenizer_config.json";

    static final TokenizerConfig NONE = new TokenizerConfig(null, null, null);

    /** The folder's config, or {@link #NONE} when the folder has no {@code tokenizer_config.json}. */
    static TokenizerConfig readFolder(Path modelDir) {
        Path file = modelDir.resolve(FILE_NAME);
        return Files.isRegularFile(file) ? read(file) : NONE;
    }

    static TokenizerConfig read(Path file) {
        JsonNode root;
        try {
            root = JsonMapper.shared().readTree(file);
        } catch (JacksonException e) {
            throw new ChatTemplateException(file + " is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ChatTemplateException(file + " is not a JSON object");
        }
        return new TokenizerConfig(template(root.get("chat_template"), file), token(root, "bos_token", file),
                token(root, "eos_token", file));
    }

    private static String template(JsonNode node, Path file) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isString()) {
            return node.stringValue();
        }
        if (!node.isArray()) {
            throw new ChatTemplateException(
                    file + ": chat_template must be a string or a list, got " + node.getNodeType());
        }
        List<String> names = new ArrayList<>();
        for (JsonNode named : node) {
            String name = named.path("name").asString(null);
            if ("default".equals(name) && named.path("template").isString()) {
                return named.get("template").stringValue();
            }
            names.add(name);
        }
        throw new ChatTemplateException(
                file + ": chat_template lists no template named 'default' (names: " + names + ")");
    }

    private static String token(JsonNode root, String field, Path file) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            return null;
        }
        JsonNode content = node.isObject() ? node.get("content") : node;
        if (content == null || !content.isString()) {
            throw new ChatTemplateException(
                    file + ": " + field + " must be a string or an object with a 'content' string");
        }
        return content.stringValue();
    }
}
