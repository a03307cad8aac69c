package dev.kvlab.serving.openai;

import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.Generator;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.serving.web.ApiException;
import dev.kvlab.tokenizer.ChatMessage;
import dev.kvlab.tokenizer.ChatTemplate;
import dev.kvlab.tokenizer.ChatTemplateException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * The served model's chat template ({@code kvlab.model.chat-template}, else the model folder's
 * {@code tokenizer_config.json}) and the token ids that end an assistant turn. A model without one
 * answers chat requests with a 400 naming the setting that supplies it.
 */
@Component
public class ChatPrompts {

    static final String SETTING = "kvlab.model.chat-template";

    private static final Logger log = LoggerFactory.getLogger(ChatPrompts.class);

    private final ChatTemplate template;
    private final List<Integer> endOfTurnTokens;

    ChatPrompts(KvlabProperties properties, ModelFolder folder, Generator generator) {
        String file = properties.model().chatTemplate();
        this.template = file != null ? ChatTemplate.fromFile(Path.of(file), folder.dir())
                : ChatTemplate.fromModelFolder(folder.dir()).orElse(null);
        List<Integer> ids = new ArrayList<>();
        if (template != null) {
            for (String marker : template.endOfTurnMarkers()) {
                OptionalInt id = generator.tokenizer().tokenId(marker);
                if (id.isPresent() && !ids.contains(id.getAsInt())) {
                    ids.add(id.getAsInt());
                }
            }
            log.info("Chat template from {}; turns end at {} (token ids {})",
                    file != null ? file : folder.dir().resolve("tokenizer_config.json"), template.endOfTurnMarkers(), ids);
        }
        this.endOfTurnTokens = List.copyOf(ids);
    }

    /**
     * The conversation as the model's prompt, ending with the assistant's turn opened.
     *
     * @throws ApiException 400 naming {@value #SETTING} when the model has no template, or naming
     *     {@code messages} when the template refuses the conversation
     */
    String render(List<ChatMessage> conversation) {
        if (template == null) {
            throw ApiException.badRequest(SETTING, "the model has no chat template (no chat_template in its"
                    + " tokenizer_config.json): set " + SETTING + " to a Jinja template file, or use /v1/completions");
        }
        try {
            return template.render(conversation, true);
        } catch (ChatTemplateException e) {
            throw ApiException.badRequest("messages", "the model's chat template refuses the conversation: "
                    + e.getMessage());
        }
    }

    /** Token ids that end the assistant's turn, besides the model's end-of-sequence tokens. */
    List<Integer> endOfTurnTokens() {
        return endOfTurnTokens;
    }
}
