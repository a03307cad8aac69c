package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kvlab.serving.HttpFixture.SseEvent;
import dev.kvlab.serving.HttpFixture.SseReader;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code /v1} as the OpenAI Python SDK uses it: the bodies below are what
 * {@code client.completions.create(...)} sends, with its headers, and responses are read the way the
 * SDK reads them (its SSE decoder stops at {@code data: [DONE]} and raises on an {@code error} member).
 */
class OpenAiIntegrationTest extends ServingIntegrationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private HttpRequest.Builder sdkPost(String path, String body) {
        return HttpFixture.post(port, path, body)
                .header("Accept", "application/json")
                .header("User-Agent", "OpenAI/Python 1.54.0")
                .header("Authorization", "Bearer sk-no-key-needed") // the SDK always sends one
                .header("X-Stainless-Lang", "python");
    }

    private JsonNode json(HttpResponse<String> r) {
        return JSON.readTree(r.body());
    }

    @Test
    void modelsListTheServedModel() {
        JsonNode list = JSON.readTree(HttpFixture.get(port, "/v1/models"));
        assertThat(list.path("object").asString()).isEqualTo("list");
        JsonNode card = list.path("data").get(0);
        assertThat(card.path("id").asString()).isEqualTo("tiny-llama");
        assertThat(card.path("object").asString()).isEqualTo("model");
        assertThat(card.path("owned_by").asString()).isEqualTo("kvlab");
        assertThat(card.path("created").asLong()).isPositive();
        assertThat(JSON.readTree(HttpFixture.get(port, "/v1/models/tiny-llama")).path("id").asString())
                .isEqualTo("tiny-llama");
        HttpResponse<String> missing = HttpFixture.send(HttpRequest.newBuilder(
                URI.create("http://localhost:" + port + "/v1/models/gpt-4")).GET().build());
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(json(missing).path("error").path("code").asString()).isEqualTo("model_not_found");
    }

    @Test
    void completionAsTheSdkSendsIt() {
        HttpResponse<String> r = HttpFixture.send(sdkPost("/v1/completions", """
                {"model": "tiny-llama", "prompt": "Hello", "max_tokens": 5, "temperature": 0, "stream": false,
                 "n": 1, "logprobs": null, "echo": false, "stop": null, "user": "u-1", "frequency_penalty": 0,
                 "presence_penalty": 0, "logit_bias": {}, "suffix": null}""").build());
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode c = json(r);
        assertThat(c.path("id").asString()).startsWith("cmpl-");
        assertThat(c.path("object").asString()).isEqualTo("text_completion");
        assertThat(c.path("created").asLong()).isPositive();
        assertThat(c.path("model").asString()).isEqualTo("tiny-llama");
        JsonNode choice = c.path("choices").get(0);
        assertThat(choice.path("index").asInt()).isZero();
        assertThat(choice.has("logprobs")).isTrue();
        assertThat(choice.path("logprobs").isNull()).isTrue();
        assertThat(choice.path("finish_reason").asString()).isIn("stop", "length");
        JsonNode usage = c.path("usage");
        int completion = usage.path("completion_tokens").asInt();
        assertThat(usage.path("total_tokens").asInt())
                .isEqualTo(usage.path("prompt_tokens").asInt() + completion);
        assertThat(completion).isBetween(0, 5);
        if (choice.path("finish_reason").asString().equals("length")) {
            assertThat(completion).isEqualTo(5);
        }
        // greedy: /generate gives the same text
        JsonNode same = JSON.readTree(HttpFixture.send(HttpFixture.post(port, "/generate",
                "{\"prompt\": \"Hello\", \"max_new_tokens\": 5}").build()).body());
        assertThat(choice.path("text").asString()).isEqualTo(same.path("text").asString());
    }

    @Test
    void promptAsAListOfOneStringEchoAndKvCacheExtension() {
        JsonNode c = json(HttpFixture.send(sdkPost("/v1/completions", """
                {"model": "tiny-llama", "prompt": ["Hello"], "max_tokens": 4, "temperature": 0, "echo": true,
                 "kv_cache": {"policy": "h2o", "budget": 8}}""").build()));
        assertThat(c.path("choices").get(0).path("text").asString()).startsWith("Hello");
        assertThat(c.path("kv_cache").path("policy").asString()).isEqualTo("h2o");
    }

    @Test
    void streamParsesAsTheSdkParsesIt() throws Exception {
        HttpResponse<InputStream> r = HttpFixture.open(sdkPost("/v1/completions", """
                {"model": "tiny-llama", "prompt": "Hello", "max_tokens": 8, "temperature": 0, "stream": true,
                 "stream_options": {"include_usage": true}}""").build());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        List<JsonNode> chunks = new ArrayList<>();
        boolean sawDone = false;
        try (SseReader reader = new SseReader(r.body())) {
            for (SseEvent e = reader.next(); e != null; e = reader.next()) {
                assertThat(e.event()).isNull(); // OpenAI streams carry data only
                if (e.data().startsWith("[DONE]")) {
                    sawDone = true;
                    break;
                }
                JsonNode chunk = JSON.readTree(e.data());
                assertThat(chunk.has("error")).isFalse();
                chunks.add(chunk);
            }
        }
        assertThat(sawDone).isTrue();
        String id = chunks.get(0).path("id").asString();
        assertThat(id).startsWith("cmpl-");
        StringBuilder text = new StringBuilder();
        String finish = null;
        JsonNode usage = null;
        for (JsonNode chunk : chunks) {
            assertThat(chunk.path("id").asString()).isEqualTo(id);
            assertThat(chunk.path("object").asString()).isEqualTo("text_completion");
            if (chunk.path("choices").isEmpty()) {
                usage = chunk.path("usage");
                continue;
            }
            JsonNode choice = chunk.path("choices").get(0);
            text.append(choice.path("text").asString());
            if (!choice.path("finish_reason").isNull()) {
                finish = choice.path("finish_reason").asString();
            }
        }
        assertThat(finish).isIn("stop", "length");
        assertThat(usage).isNotNull();
        assertThat(usage.path("total_tokens").asInt())
                .isEqualTo(usage.path("prompt_tokens").asInt() + usage.path("completion_tokens").asInt());
        JsonNode plain = json(HttpFixture.send(sdkPost("/v1/completions", """
                {"model": "tiny-llama", "prompt": "Hello", "max_tokens": 8, "temperature": 0}""").build()));
        assertThat(text.toString()).isEqualTo(plain.path("choices").get(0).path("text").asString());
    }

    @Test
    void problemsCarryAnOpenAiErrorObject() {
        HttpResponse<String> r = HttpFixture.send(sdkPost("/v1/completions",
                "{\"model\": \"tiny-llama\", \"prompt\": \"Hello\", \"n\": 2}").build());
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        JsonNode body = json(r);
        assertThat(body.path("field").asString()).isEqualTo("n");
        assertThat(body.path("error").path("param").asString()).isEqualTo("n");
        assertThat(body.path("error").path("type").asString()).isEqualTo("invalid_request_error");
        assertThat(body.path("error").path("message").asString()).contains("n=1");

        HttpResponse<String> wrongModel = HttpFixture.send(sdkPost("/v1/completions",
                "{\"model\": \"gpt-3.5-turbo-instruct\", \"prompt\": \"Hello\"}").build());
        assertThat(wrongModel.statusCode()).isEqualTo(404);
        assertThat(json(wrongModel).path("error").path("param").asString()).isEqualTo("model");

        HttpResponse<String> badJson = HttpFixture.send(sdkPost("/v1/completions", "{\"prompt\": ").build());
        assertThat(badJson.statusCode()).isEqualTo(400);
        assertThat(json(badJson).path("error").path("message").asString()).contains("not valid JSON");
    }

    @Test
    void chatOnAModelWithoutATemplateNamesTheSettingThatSuppliesOne() {
        HttpResponse<String> r = HttpFixture.send(sdkPost("/v1/chat/completions", """
                {"model": "tiny-llama", "messages": [{"role": "user", "content": "Hi"}]}""").build());
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r).path("field").asString()).isEqualTo("kvlab.model.chat-template");
        assertThat(json(r).path("error").path("message").asString()).contains("chat template");
    }
}
