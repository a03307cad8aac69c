package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.generation.PerplexityEvaluator;
import dev.kvlab.serving.HttpFixture.SseEvent;
import dev.kvlab.serving.HttpFixture.SseReader;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Log-probabilities as evaluation harnesses ask for them (lm-evaluation-harness's
 * {@code local-completions}: {@code echo}, {@code logprobs: 1}, {@code max_tokens: 0}, the prompt as
 * text or token ids), token-id prompts, {@code /tokenize} and {@code /detokenize}, and strict JSON types.
 */
class LogprobsIntegrationTest extends ServingIntegrationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final String TEXT = "The quick brown fox jumps over the lazy dog, and the dog sleeps on.";

    private JsonNode post(String path, String body) {
        HttpResponse<String> r = HttpFixture.send(HttpFixture.post(port, path, body).build());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private JsonNode problem(String path, String body) {
        HttpResponse<String> r = HttpFixture.send(HttpFixture.post(port, path, body).build());
        assertThat(r.statusCode()).as(body + " -> " + r.body()).isEqualTo(400);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        return JSON.readTree(r.body());
    }

    private int[] tokens(String text) {
        JsonNode t = post("/tokenize", JSON.writeValueAsString(Map.of("prompt", text)));
        int[] ids = new int[t.path("tokens").size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = t.path("tokens").get(i).asInt();
        }
        assertThat(t.path("count").asInt()).isEqualTo(ids.length);
        return ids;
    }

    private static double sum(JsonNode tokenLogprobs) {
        double total = 0;
        for (int i = 1; i < tokenLogprobs.size(); i++) {
            total += tokenLogprobs.get(i).asDouble();
        }
        return total;
    }

    /** Minus the echoed log-probabilities sum to the NLL the perplexity experiment computes, for a compressing policy too. */
    @ParameterizedTest
    @ValueSource(strings = {"{\"policy\": \"full\"}", "{\"policy\": \"h2o\", \"budget\": 8, \"recent\": 2}"})
    void echoedLogprobsAreThePerplexityOfTheText(String kvCache) {
        JsonNode r = post("/v1/completions", """
                {"prompt": %s, "echo": true, "logprobs": 1, "max_tokens": 0, "temperature": 0, "kv_cache": %s}"""
                .formatted(JSON.writeValueAsString(TEXT), kvCache));
        JsonNode choice = r.path("choices").get(0);
        assertThat(choice.path("text").asString()).isEqualTo(TEXT);
        JsonNode lp = choice.path("logprobs");
        int[] ids = tokens(TEXT);
        assertThat(lp.path("tokens")).hasSize(ids.length);
        assertThat(lp.path("token_logprobs").get(0).isNull()).isTrue();
        assertThat(lp.path("top_logprobs").get(0).isNull()).isTrue();
        assertThat(lp.path("text_offset").get(0).asInt()).isZero();
        for (int i = 1; i < ids.length; i++) {
            assertThat(lp.path("token_logprobs").get(i).asDouble()).isNegative();
            assertThat(lp.path("top_logprobs").get(i).size()).isEqualTo(1);
        }
        PerplexityEvaluator.Result expected = new PerplexityEvaluator(model).evaluate(ids,
                PolicyRegistry.create(JSON.readValue(kvCache, Map.class)));
        double nll = expected.meanNll() * expected.predictedTokens();
        assertThat(-sum(lp.path("token_logprobs"))).isCloseTo(nll, within(1e-3 * nll));
        assertThat(r.path("usage").path("completion_tokens").asInt()).isZero();
    }

    @Test
    void tokenIdPromptsScoreAsTheirTextAndEachGetsAChoice() {
        int[] ids = tokens(TEXT);
        String asText = """
                {"prompt": %s, "echo": true, "logprobs": 2, "max_tokens": 0}""".formatted(JSON.writeValueAsString(TEXT));
        JsonNode text = post("/v1/completions", asText).path("choices").get(0).path("logprobs");
        JsonNode single = post("/v1/completions", """
                {"prompt": %s, "echo": true, "logprobs": 2, "max_tokens": 0}""".formatted(JSON.writeValueAsString(ids)));
        JsonNode batch = post("/v1/completions", """
                {"prompt": [%s, "Hello there"], "echo": true, "logprobs": 2, "max_tokens": 3, "temperature": 0}"""
                .formatted(JSON.writeValueAsString(ids)));
        JsonNode fromIds = single.path("choices").get(0).path("logprobs");
        assertThat(fromIds.path("tokens")).isEqualTo(text.path("tokens"));
        for (int i = 1; i < ids.length; i++) {
            assertThat(fromIds.path("token_logprobs").get(i).asDouble())
                    .isCloseTo(text.path("token_logprobs").get(i).asDouble(), within(1e-5));
        }
        assertThat(batch.path("choices")).hasSize(2);
        assertThat(batch.path("choices").get(0).path("index").asInt()).isZero();
        assertThat(batch.path("choices").get(1).path("index").asInt()).isEqualTo(1);
        assertThat(batch.path("choices").get(1).path("text").asString()).startsWith("Hello there");
        int promptTokens = ids.length + tokens("Hello there").length;
        assertThat(batch.path("usage").path("prompt_tokens").asInt()).isEqualTo(promptTokens);
        int echoedAndGenerated = batch.path("choices").get(0).path("logprobs").path("tokens").size()
                + batch.path("choices").get(1).path("logprobs").path("tokens").size();
        assertThat(echoedAndGenerated).isEqualTo(promptTokens + batch.path("usage").path("completion_tokens").asInt());
    }

    /** lm-evaluation-harness decides {@code is_greedy} by comparing each token with its top alternative. */
    @Test
    void greedyTokensAreTheirPositionsTopAlternative() {
        JsonNode r = post("/v1/completions", """
                {"prompt": "Once upon a time", "logprobs": 3, "max_tokens": 6, "temperature": 0}""");
        JsonNode lp = r.path("choices").get(0).path("logprobs");
        int generated = r.path("usage").path("completion_tokens").asInt();
        assertThat(lp.path("tokens")).hasSize(generated);
        String text = r.path("choices").get(0).path("text").asString();
        int promptChars = "Once upon a time".length();
        for (int i = 0; i < generated; i++) {
            String token = lp.path("tokens").get(i).asString();
            JsonNode top = lp.path("top_logprobs").get(i);
            assertThat(top.size()).isBetween(1, 3);
            Iterator<Map.Entry<String, JsonNode>> alternatives = top.properties().iterator();
            Map.Entry<String, JsonNode> best = alternatives.next();
            assertThat(best.getKey()).isEqualTo(token);
            assertThat(best.getValue().asDouble()).isCloseTo(lp.path("token_logprobs").get(i).asDouble(), within(1e-9));
            double previous = best.getValue().asDouble();
            while (alternatives.hasNext()) {
                double next = alternatives.next().getValue().asDouble();
                assertThat(next).isLessThanOrEqualTo(previous);
                previous = next;
            }
            assertThat(lp.path("text_offset").get(i).asInt()).isGreaterThanOrEqualTo(promptChars);
        }
        assertThat(String.join("", lp.path("tokens").valueStream().map(JsonNode::asString).toList())).isEqualTo(text);
    }

    @Test
    void streamedTokensCarryTheirLogprobs() throws Exception {
        List<JsonNode> chunks = new ArrayList<>();
        try (InputStream in = HttpFixture.open(HttpFixture.post(port, "/v1/completions", """
                {"prompt": "Once upon a time", "logprobs": 2, "max_tokens": 5, "temperature": 0,
                 "stream": true}""").build()).body(); SseReader events = new SseReader(in)) {
            for (SseEvent e = events.next(); e != null && !e.data().equals("[DONE]"); e = events.next()) {
                chunks.add(JSON.readTree(e.data()));
            }
        }
        JsonNode whole = post("/v1/completions", """
                {"prompt": "Once upon a time", "logprobs": 2, "max_tokens": 5, "temperature": 0}""");
        List<Double> streamed = new ArrayList<>();
        for (JsonNode chunk : chunks) {
            JsonNode lp = chunk.path("choices").get(0).path("logprobs");
            if (!lp.isNull()) {
                assertThat(lp.path("tokens")).hasSize(1);
                streamed.add(lp.path("token_logprobs").get(0).asDouble());
            }
        }
        List<Double> answered = whole.path("choices").get(0).path("logprobs").path("token_logprobs").valueStream()
                .map(JsonNode::asDouble).toList();
        assertThat(streamed).hasSize(answered.size());
        for (int i = 0; i < answered.size(); i++) {
            assertThat(streamed.get(i)).isCloseTo(answered.get(i), within(1e-6));
        }
    }

    @Test
    void tokenizeAndDetokenizeRoundTrip() {
        int[] ids = tokens(TEXT);
        JsonNode plain = post("/tokenize", "{\"prompt\": \"The quick\", \"add_special_tokens\": false}");
        JsonNode withBos = post("/tokenize", "{\"prompt\": \"The quick\"}");
        assertThat(withBos.path("count").asInt()).isEqualTo(plain.path("count").asInt() + 1);
        assertThat(withBos.path("max_model_len").asInt()).isEqualTo(model.config().maxPositions());
        String back = post("/detokenize", JSON.writeValueAsString(Map.of("tokens", ids))).path("prompt").asString();
        assertThat(back).isEqualTo(TEXT);
        assertThat(problem("/detokenize", "{\"tokens\": [1, -4]}").path("field").asString()).isEqualTo("tokens[1]");
        assertThat(problem("/detokenize", "{\"tokens\": [1, 99999999]}").path("field").asString())
                .isEqualTo("tokens[1]");
        assertThat(problem("/tokenize", "{\"prompt\": 7}").path("field").asString()).isEqualTo("prompt");
        assertThat(problem("/tokenize", "{}").path("field").asString()).isEqualTo("prompt");
    }

    @Test
    void wrongJsonTypesAreRefusedNotCoerced() {
        assertThat(problem("/generate", "{\"prompt\": 5}").path("field").asString()).isEqualTo("prompt");
        assertThat(problem("/generate", "{\"prompt\": true}").path("field").asString()).isEqualTo("prompt");
        assertThat(problem("/generate", "{\"prompt\": \"a\", \"max_new_tokens\": \"5\"}").path("field").asString())
                .isEqualTo("max_new_tokens");
        assertThat(problem("/generate", "{\"prompt\": \"a\", \"max_new_tokens\": 2.5}").path("field").asString())
                .isEqualTo("max_new_tokens");
        assertThat(problem("/generate", "{\"prompt\": \"a\", \"temperature\": \"0.5\"}").path("field").asString())
                .isEqualTo("temperature");
        assertThat(problem("/generate", "{\"prompt\": \"a\", \"stream\": \"true\"}").path("field").asString())
                .isEqualTo("stream");
        assertThat(problem("/generate", "{\"prompt\": \"a\", \"stop\": [1]}").path("field").asString())
                .isEqualTo("stop[0]");
        assertThat(problem("/v1/completions", "{\"prompt\": 5}").path("field").asString()).isEqualTo("prompt");
        assertThat(problem("/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": \"3\"}").path("field").asString())
                .isEqualTo("max_tokens");
        assertThat(problem("/v1/completions", "{\"prompt\": \"a\", \"echo\": 1}").path("field").asString())
                .isEqualTo("echo");
        assertThat(problem("/v1/completions", "{\"prompt\": \"a\", \"logprobs\": true}").path("field").asString())
                .isEqualTo("logprobs");
        assertThat(problem("/v1/completions", "{\"prompt\": [1, -2]}").path("field").asString())
                .isEqualTo("prompt[1]");
        assertThat(problem("/v1/completions", "{\"prompt\": [\"a\", 3]}").path("field").asString())
                .isEqualTo("prompt[1]");
        assertThat(problem("/v1/completions", "{\"prompt\": [\"a\", \"b\"], \"stream\": true}").path("field")
                .asString()).isEqualTo("prompt");
    }

    @Test
    void openAiFieldsThatWouldChangeTheResultAreRefused() {
        for (String field : List.of("\"suffix\": \"end\"", "\"logit_bias\": {\"5\": 10}", "\"best_of\": 2",
                "\"n\": 2", "\"frequency_penalty\": 0.5", "\"presence_penalty\": 1", "\"logprobs\": 6")) {
            String name = field.substring(1, field.indexOf('"', 1));
            assertThat(problem("/v1/completions", "{\"prompt\": \"a\", " + field + "}").path("field").asString())
                    .isEqualTo(name);
        }
        assertThat(post("/v1/completions", """
                {"prompt": "a", "max_tokens": 2, "user": "u-1", "suffix": "", "logit_bias": {}, "metadata": {"k": "v"}}""")
                .path("choices")).hasSize(1);
    }
}
