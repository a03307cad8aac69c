package dev.kvlab.serving.openai;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kvlab.serving.generate.GenerationService;
import dev.kvlab.serving.web.ApiException;
import dev.kvlab.serving.web.TextChecks;
import java.util.List;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code POST /tokenize} and {@code POST /detokenize}, as vLLM serves them: the served model's
 * tokenizer, so a client can build prompts of an exact token length (a pass-key document of 4,096
 * tokens) and send token ids to {@code /v1/completions}.
 */
@RestController
public class TokenizeController {

    private final GenerationService generation;

    TokenizeController(GenerationService generation) {
        this.generation = generation;
    }

    /**
     * @param prompt required, non-empty
     * @param addSpecialTokens [true]; the BOS token the server adds to a text prompt, when the model has one
     */
    record TokenizeRequest(
            @JsonProperty("prompt") String prompt,
            @JsonProperty("add_special_tokens") Boolean addSpecialTokens) {}

    /** @param maxModelLen the model's positions */
    record TokenizeResponse(
            @JsonProperty("tokens") int[] tokens,
            @JsonProperty("count") int count,
            @JsonProperty("max_model_len") int maxModelLen) {}

    /** @param tokens required token ids */
    record DetokenizeRequest(@JsonProperty("tokens") List<Integer> tokens) {}

    record DetokenizeResponse(@JsonProperty("prompt") String prompt) {}

    @PostMapping(path = "/tokenize", consumes = MediaType.APPLICATION_JSON_VALUE)
    TokenizeResponse tokenize(@RequestBody TokenizeRequest body) {
        if (body.prompt() == null) {
            throw ApiException.badRequest("prompt", "is required");
        }
        TextChecks.requireWellFormed("prompt", body.prompt());
        int[] tokens = Boolean.FALSE.equals(body.addSpecialTokens())
                ? generation.tokenizer().encode(body.prompt()) : generation.promptTokens(body.prompt());
        return new TokenizeResponse(tokens, tokens.length, generation.maxPositions());
    }

    @PostMapping(path = "/detokenize", consumes = MediaType.APPLICATION_JSON_VALUE)
    DetokenizeResponse detokenize(@RequestBody DetokenizeRequest body) {
        if (body.tokens() == null) {
            throw ApiException.badRequest("tokens", "is required");
        }
        int vocab = generation.vocabSize();
        int[] ids = new int[body.tokens().size()];
        for (int i = 0; i < ids.length; i++) {
            Integer id = body.tokens().get(i);
            if (id == null || id < 0 || id >= vocab) {
                throw ApiException.badRequest("tokens[" + i + "]", "must be a token id between 0 and " + (vocab - 1)
                        + ", got " + id);
            }
            ids[i] = id;
        }
        return new DetokenizeResponse(generation.tokenizer().decode(ids));
    }
}
