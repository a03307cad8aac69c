package dev.kvlab.serving.openai;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/** The answer of {@code GET /v1/models}: {@code {"object": "list", "data": [model…]}}, as OpenAI lists models. */
public record ModelList(@JsonProperty("object") String object, @JsonProperty("data") List<Card> data) {

    /** One model, as {@code GET /v1/models/{id}} answers it. */
    record Card(
            @JsonProperty("id") String id,
            @JsonProperty("object") String object,
            @JsonProperty("created") long created,
            @JsonProperty("owned_by") String ownedBy) {

        static Card of(String id, long created) {
            return new Card(id, "model", created, "kvlab");
        }
    }

    static ModelList of(Card card) {
        return new ModelList("list", List.of(card));
    }
}
