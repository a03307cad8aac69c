package dev.kvlab.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A model's chat template: turns a conversation into the prompt text the model was fine-tuned on, by
 * rendering the model's Jinja template the way Hugging Face transformers' {@code apply_chat_template}
 * does. The rendered prompt already holds whatever bos text the template writes, so callers do not
 * prepend a bos id to its tokens.
 *
 * <p>Immutable and thread-safe: every {@link #render} parses the template anew.
 */
public final class ChatTemplate {

    /** A template file that transformers prefers over {@code tokenizer_config.json}'s {@code chat_template}. */
    static final String TEMPLATE_FILE = "chat_template.jinja";

    /** Turn-ending tokens of the common template families, in the order {@link #endOfTurnMarkers} lists them. */
    private static final List<String> TURN_END_TOKENS =
            List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>");

    private static final JinjaEnvironment JINJA = new JinjaEnvironment();

    private final String source;
    private final String bosToken;
    private final String eosToken;
    private final List<String> endOfTurnMarkers;

    private ChatTemplate(String source, String bosToken, String eosToken) {
        this.source = source;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        Set<String> markers = new LinkedHashSet<>();
        if (!this.eosToken.isEmpty()) {
            markers.add(this.eosToken);
        }
        TURN_END_TOKENS.stream().filter(source::contains).forEach(markers::add);
        this.endOfTurnMarkers = List.copyOf(markers);
    }

    /** A template given as text, with the bos and eos strings it may refer to (null when the model has none). */
    public static ChatTemplate of(String source, String bosToken, String eosToken) {
        return new ChatTemplate(source, bosToken, eosToken);
    }

    /**
     * The template a model folder ships: {@code chat_template.jinja} when present, else
     * {@code tokenizer_config.json}'s {@code chat_template}; bos and eos come from the latter.
     *
     * @return empty when the folder has neither
     * @throws ChatTemplateException if a file cannot be read or its chat fields are malformed
     */
    public static Optional<ChatTemplate> fromModelFolder(Path dir) {
        TokenizerConfig config = TokenizerConfig.readFolder(dir);
        Path templateFile = dir.resolve(TEMPLATE_FILE);
        String source = Files.isRegularFile(templateFile) ? readTemplate(templateFile) : config.chatTemplate();
        return Optional.ofNullable(source).map(s -> new ChatTemplate(s, config.bosToken(), config.eosToken()));
    }

    /**
     * A template file named by a setting, which replaces whatever template the model folder has; bos and
     * eos still come from the folder's {@code tokenizer_config.json} when it has one.
     *
     * @throws ChatTemplateException if the file cannot be read
     */
    public static ChatTemplate fromFile(Path templateFile, Path modelDir) {
        TokenizerConfig config = modelDir == null ? TokenizerConfig.NONE : TokenizerConfig.readFolder(modelDir);
        return new ChatTemplate(readTemplate(templateFile), config.bosToken(), config.eosToken());
    }

    /**
     * The prompt for {@code messages}; with {@code addGenerationPrompt} it ends with the opening of an
     * assistant turn, so the model's continuation is the reply.
     *
     * @throws ChatTemplateException when the template rejects the conversation ({@code raise_exception},
     *     e.g. roles that do not alternate) or fails to render
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        Map<String, Object> bindings = new HashMap<>();
        bindings.put("messages", messages.stream().map(ChatTemplate::asTemplateValue).toList());
        bindings.put("add_generation_prompt", addGenerationPrompt);
        bindings.put("bos_token", bosToken);
        bindings.put("eos_token", eosToken);
        bindings.put("tools", null);
        return JINJA.render(source, bindings);
    }

    /**
     * The strings that end an assistant turn, to stop generation at: the eos token, then those of
     * {@code <|eot_id|>}, {@code <|im_end|>}, {@code <|end|>}, {@code <end_of_turn>}, {@code <|endoftext|>}
     * and {@code </s>} that the template source contains, without repeats.
     */
    public List<String> endOfTurnMarkers() {
        return endOfTurnMarkers;
    }

    /** A message as the dict templates index, in Python's key order so {@code message | tojson} matches. */
    private static Map<String, Object> asTemplateValue(ChatMessage message) {
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("role", message.role());
        value.put("content", message.content());
        return value;
    }

    private static String readTemplate(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new ChatTemplateException("cannot read chat template " + file + ": " + e, e);
        }
    }
}
