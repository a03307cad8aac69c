package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionChoice;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import dev.kvlab.serving.HttpFixture.SseEvent;
import dev.kvlab.serving.HttpFixture.SseReader;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code /v1/chat/completions} on a model given a chat template by {@code kvlab.model.chat-template}
 * (ChatML) and a default cache policy by {@code kvlab.serving.default-kv-cache}, and the whole
 * {@code /v1} API driven by the official OpenAI Java SDK, the library users call.
 */
@TestPropertySource(properties = {"kvlab.model.chat-template=src/test/resources/chat-templates/chatml.jinja",
        "kvlab.serving.max-prompt-tokens=256", "kvlab.serving.default-kv-cache={\"policy\": \"h2o\", \"budget\": 64}"})
class ChatIntegrationTest extends ServingIntegrationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final String RENDERED = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
            + "<|im_start|>assistant\n";

    private OpenAIClient sdk;

    @BeforeEach
    void client() {
        sdk = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("no-key-needed")
                .maxRetries(0).build();
    }

    @AfterEach
    void close() {
        sdk.close();
    }

    private JsonNode post(String path, String body) {
        HttpResponse<String> r = HttpFixture.send(HttpFixture.post(port, path, body).build());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private JsonNode problem(String body) {
        HttpResponse<String> r = HttpFixture.send(HttpFixture.post(port, "/v1/chat/completions", body).build());
        assertThat(r.statusCode()).as(body + " -> " + r.body()).isEqualTo(400);
        return JSON.readTree(r.body());
    }

    private static final String CHAT = """
            {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}],
             "max_completion_tokens": 8, "temperature": 0%s}""";

    @Test
    void theConversationIsRenderedWithTheTemplateAndAnswered() {
        JsonNode chat = post("/v1/chat/completions", CHAT.formatted(""));
        assertThat(chat.path("object").asString()).isEqualTo("chat.completion");
        JsonNode choice = chat.path("choices").get(0);
        assertThat(choice.path("message").path("role").asString()).isEqualTo("assistant");
        // the same tokens as a completion of the rendered prompt, encoded without an added BOS
        JsonNode ids = post("/tokenize", JSON.writeValueAsString(Map.of("prompt", RENDERED, "add_special_tokens", false)))
                .path("tokens");
        JsonNode completion = post("/v1/completions", """
                {"prompt": %s, "max_tokens": 8, "temperature": 0}""".formatted(ids));
        assertThat(choice.path("message").path("content").asString())
                .isEqualTo(completion.path("choices").get(0).path("text").asString());
        assertThat(chat.path("usage").path("prompt_tokens").asInt()).isEqualTo(ids.size());
        // kvlab.serving.default-kv-cache applies to requests that send no kv_cache
        assertThat(chat.path("kv_cache").path("policy").asString()).isEqualTo("h2o");
        assertThat(chat.path("kv_cache").path("params").path("budget").asInt()).isEqualTo(64);
    }

    @Test
    void aStreamedChatSendsTheRoleThenTheTextThenTheReason() throws Exception {
        String whole = post("/v1/chat/completions", CHAT.formatted("")).path("choices").get(0).path("message")
                .path("content").asString();
        List<JsonNode> chunks = new ArrayList<>();
        boolean done = false;
        try (InputStream in = HttpFixture.open(HttpFixture.post(port, "/v1/chat/completions",
                CHAT.formatted(", \"stream\": true, \"stream_options\": {\"include_usage\": true}")).build()).body();
                SseReader events = new SseReader(in)) {
            for (SseEvent e = events.next(); e != null; e = events.next()) {
                if (e.data().equals("[DONE]")) {
                    done = true;
                    break;
                }
                chunks.add(JSON.readTree(e.data()));
            }
        }
        assertThat(done).isTrue();
        assertThat(chunks.get(0).path("object").asString()).isEqualTo("chat.completion.chunk");
        assertThat(chunks.get(0).path("choices").get(0).path("delta").path("role").asString()).isEqualTo("assistant");
        StringBuilder text = new StringBuilder();
        String reason = null;
        for (JsonNode chunk : chunks.subList(0, chunks.size() - 1)) {
            JsonNode c = chunk.path("choices").get(0);
            text.append(c.path("delta").path("content").asString(""));
            if (!c.path("finish_reason").isNull()) {
                reason = c.path("finish_reason").asString();
            }
        }
        assertThat(text.toString()).isEqualTo(whole);
        assertThat(reason).isIn("stop", "length");
        JsonNode usage = chunks.get(chunks.size() - 1);
        assertThat(usage.path("choices")).isEmpty();
        assertThat(usage.path("usage").path("completion_tokens").asInt()).isPositive();
    }

    @Test
    void chatLogprobsListEveryGeneratedToken() {
        JsonNode chat = post("/v1/chat/completions", CHAT.formatted(", \"logprobs\": true, \"top_logprobs\": 2"));
        JsonNode content = chat.path("choices").get(0).path("logprobs").path("content");
        assertThat(content).hasSize(chat.path("usage").path("completion_tokens").asInt());
        for (JsonNode token : content) {
            assertThat(token.path("logprob").asDouble()).isLessThanOrEqualTo(0);
            assertThat(token.path("top_logprobs")).hasSize(2);
            assertThat(token.path("top_logprobs").get(0).path("logprob").asDouble())
                    .isGreaterThanOrEqualTo(token.path("logprob").asDouble());
        }
    }

    @Test
    void badConversationsAndUnsupportedFieldsAreNamed() {
        assertThat(problem("{\"messages\": []}").path("field").asString()).isEqualTo("messages");
        assertThat(problem("{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}").path("field").asString())
                .isEqualTo("messages[0].role");
        assertThat(problem("{\"messages\": [{\"role\": \"user\", \"content\": 5}]}").path("field").asString())
                .isEqualTo("messages[0].content");
        assertThat(problem("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}")
                .path("field").asString()).isEqualTo("messages[0].content[0]");
        assertThat(problem("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tools\": [{\"type\": \"function\"}]}")
                .path("field").asString()).isEqualTo("tools");
        assertThat(problem("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"response_format\": {\"type\": \"json_object\"}}")
                .path("field").asString()).isEqualTo("response_format");
        assertThat(problem("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_logprobs\": 2}")
                .path("field").asString()).isEqualTo("top_logprobs");
        assertThat(problem("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_completion_tokens\": \"4\"}")
                .path("field").asString()).isEqualTo("max_completion_tokens");
    }

    @Test
    void theSdkListsModelsAndCompletes() {
        List<String> ids = sdk.models().list().data().stream().map(Model::id).toList();
        assertThat(ids).containsExactly("tiny-llama");
        Completion c = sdk.completions().create(CompletionCreateParams.builder().model("tiny-llama").prompt("Hello")
                .maxTokens(6L).temperature(0.0).seed(1L)
                .putAdditionalBodyProperty("kv_cache", JsonValue.from(Map.of("policy", "h2o", "budget", 8))).build());
        assertThat(c.choices()).hasSize(1);
        assertThat(c.usage().orElseThrow().completionTokens()).isBetween(1L, 6L);
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<Completion> stream = sdk.completions().createStreaming(CompletionCreateParams.builder()
                .model("tiny-llama").prompt("Hello").maxTokens(6L).temperature(0.0).seed(1L)
                .putAdditionalBodyProperty("kv_cache", JsonValue.from(Map.of("policy", "h2o", "budget", 8))).build())) {
            stream.stream().forEach(chunk -> chunk.choices().forEach(choice -> streamed.append(choice.text())));
        }
        assertThat(streamed.toString()).isEqualTo(c.choices().get(0).text());
    }

    @Test
    void theSdkChatsPlainAndStreamed() {
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model("tiny-llama")
                .addSystemMessage("Be brief.").addUserMessage("Hi there").maxCompletionTokens(8L).temperature(0.0)
                .build();
        ChatCompletion chat = sdk.chat().completions().create(params);
        String answer = chat.choices().get(0).message().content().orElse("");
        assertThat(answer).isEqualTo(post("/v1/chat/completions", CHAT.formatted("")).path("choices").get(0)
                .path("message").path("content").asString());
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> stream = sdk.chat().completions().createStreaming(params)) {
            stream.stream().forEach(chunk -> chunk.choices()
                    .forEach(choice -> choice.delta().content().ifPresent(streamed::append)));
        }
        assertThat(streamed.toString()).isEqualTo(answer);
    }

    /** lm-evaluation-harness's loglikelihood request, through the SDK. */
    @Test
    void theSdkReadsEchoedLogprobs() {
        Completion c = sdk.completions().create(CompletionCreateParams.builder().model("tiny-llama")
                .prompt("The quick brown fox").echo(true).logprobs(1L).maxTokens(0L).temperature(0.0).build());
        CompletionChoice choice = c.choices().get(0);
        assertThat(choice.text()).isEqualTo("The quick brown fox");
        CompletionChoice.Logprobs logprobs = choice.logprobs().orElseThrow();
        List<String> tokens = logprobs.tokens().orElseThrow();
        assertThat(tokens).hasSize((int) c.usage().orElseThrow().promptTokens());
        List<Double> values = logprobs.tokenLogprobs().orElseThrow();
        assertThat(values.get(0)).isNull();
        assertThat(values.subList(1, values.size())).allSatisfy(v -> assertThat(v).isNegative());
    }

    @Test
    void theSdkSurfacesProblemsAsItsExceptions() {
        assertThatThrownBy(() -> sdk.chat().completions().create(ChatCompletionCreateParams.builder().model("gpt-4")
                .addUserMessage("Hi").build())).isInstanceOf(NotFoundException.class);
        assertThatThrownBy(() -> sdk.completions().create(CompletionCreateParams.builder().model("tiny-llama")
                .prompt("Hi").logprobs(9L).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).hasValue("logprobs"));
    }
}
