package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * What a hostile or careless client meets: the API key, the body size limit, and a table of malformed
 * requests to {@code /generate} and {@code /v1/completions}, each of which must be a 4xx
 * problem+json naming the field at fault (where one is), never a 5xx.
 */
@DirtiesContext // used by this class only: do not keep its server and threads alive for later tests
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"kvlab.device=cpu", "kvlab.prefill.chunk=8", "kvlab.serving.max-prompt-tokens=64",
                "kvlab.serving.max-body-size=64KB", "kvlab.security.api-key=test-key"})
class HardeningIntegrationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Path MODEL_DIR = HttpFixture.tinyModel("tiny-llama");
    private static final String KEY = "Bearer test-key";

    @DynamicPropertySource
    static void model(DynamicPropertyRegistry registry) {
        registry.add("kvlab.model.path", MODEL_DIR::toString);
    }

    @LocalServerPort
    int port;

    /**
     * One malformed request.
     *
     * @param field the field the problem must name, or null where the fault is the body as a whole
     */
    record Malformed(String name, String path, String contentType, byte[] body, int status, String field) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Malformed bad(String name, String path, String json, String field) {
        return new Malformed(name, path, "application/json", json.getBytes(StandardCharsets.UTF_8), 400, field);
    }

    private static Malformed gen(String name, String json, String field) {
        return bad(name, "/generate", json, field);
    }

    private static Malformed v1(String name, String json, String field) {
        return bad(name, "/v1/completions", json, field);
    }

    static Stream<Malformed> malformed() {
        List<Malformed> t = new ArrayList<>();
        String big = "9223372036854775808"; // 2^63
        // the body as a whole
        t.add(gen("unterminated object", "{\"prompt\": \"hi\"", null));
        t.add(gen("unquoted keys", "{prompt: \"hi\"}", null));
        t.add(gen("empty body", "", null));
        t.add(gen("array body", "[\"hi\"]", null));
        t.add(gen("null body", "null", null));
        t.add(gen("NaN literal", "{\"prompt\": \"hi\", \"temperature\": NaN}", null));
        t.add(gen("a number of 2000 digits", "{\"prompt\": \"hi\", \"max_new_tokens\": " + "1".repeat(2000) + "}", null));
        t.add(gen("nesting 5000 deep", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": " + "[".repeat(5000)
                + "]".repeat(5000) + "}}", null));
        t.add(new Malformed("invalid UTF-8 bytes", "/generate", "application/json",
                new byte[] {'{', '"', 'p', 'r', 'o', 'm', 'p', 't', '"', ':', '"', (byte) 0xff, (byte) 0xfe, '"', '}'},
                400, null));
        t.add(new Malformed("text/plain body", "/generate", "text/plain",
                "prompt=hi".getBytes(StandardCharsets.UTF_8), 415, null));
        t.add(new Malformed("body over 64 KB", "/generate", "application/json",
                ("{\"prompt\": \"" + "a".repeat(70_000) + "\"}").getBytes(StandardCharsets.UTF_8), 413, null));
        // wrong types and huge numbers
        t.add(gen("prompt is an object", "{\"prompt\": {\"text\": \"hi\"}}", "prompt"));
        t.add(gen("max_new_tokens 1e400", "{\"prompt\": \"hi\", \"max_new_tokens\": 1e400}", "max_new_tokens"));
        t.add(gen("max_new_tokens 2^63", "{\"prompt\": \"hi\", \"max_new_tokens\": " + big + "}", "max_new_tokens"));
        t.add(gen("max_new_tokens 10.5", "{\"prompt\": \"hi\", \"max_new_tokens\": 10.5}", "max_new_tokens"));
        t.add(gen("seed 2^63", "{\"prompt\": \"hi\", \"seed\": " + big + "}", "seed"));
        t.add(gen("seed -2^63-1", "{\"prompt\": \"hi\", \"seed\": -9223372036854775809}", "seed"));
        t.add(gen("temperature 1e400", "{\"prompt\": \"hi\", \"temperature\": 1e400}", "temperature"));
        t.add(gen("top_p -0.0", "{\"prompt\": \"hi\", \"top_p\": -0.0}", "top_p"));
        t.add(gen("top_k a word", "{\"prompt\": \"hi\", \"top_k\": \"many\"}", "top_k"));
        t.add(gen("stream not boolean", "{\"prompt\": \"hi\", \"stream\": \"yes\"}", "stream"));
        t.add(gen("stream a list", "{\"prompt\": \"hi\", \"stream\": []}", "stream"));
        t.add(gen("model_path is not a request field", "{\"prompt\": \"hi\", \"model_path\": \"/etc\"}", "model_path"));
        // Unicode that is not text
        t.add(gen("lone high surrogate", "{\"prompt\": \"\\ud800\"}", "prompt"));
        t.add(gen("lone low surrogate", "{\"prompt\": \"a\\udc00b\"}", "prompt"));
        t.add(gen("surrogate in a stop string", "{\"prompt\": \"hi\", \"stop\": [\"ok\", \"\\ud83d\"]}", "stop[1]"));
        t.add(new Malformed("10k emoji over max-prompt-tokens", "/generate", "application/json",
                ("{\"prompt\": \"" + "\uD83D\uDE00".repeat(10_000) + "\"}").getBytes(StandardCharsets.UTF_8), 413,
                "prompt"));
        // cache policies
        t.add(gen("unknown policy parameter", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"h2o\", \"budget\": 64,"
                + " \"window\": 8}}", "kv_cache.window"));
        t.add(gen("negative budget", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"h2o\", \"budget\": -5}}",
                "kv_cache.budget"));
        t.add(gen("budget 2^63", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"h2o\", \"budget\": " + big + "}}",
                "kv_cache.budget"));
        t.add(gen("compact_every 0", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"h2o\", \"budget\": 64,"
                + " \"compact_every\": 0}}", "kv_cache.compact_every"));
        t.add(gen("budget within the sinks", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"streaming\","
                + " \"budget\": 4}}", "kv_cache.budget"));
        t.add(gen("budget and budget_ratio", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"h2o\", \"budget\": 64,"
                + " \"budget_ratio\": 0.5}}", "kv_cache.budget_ratio"));
        t.add(gen("budget_ratio 1.5", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"tova\", \"budget_ratio\": 1.5}}",
                "kv_cache.budget_ratio"));
        t.add(gen("similarity 2", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"entropy-merge\", \"budget\": 64,"
                + " \"similarity\": 2}}", "kv_cache.similarity"));
        t.add(gen("quantization int3", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"full\","
                + " \"quantization\": \"int3\"}}", "kv_cache.quantization"));
        t.add(gen("group_size not dividing the head dimension", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\":"
                + " \"h2o\", \"budget\": 64, \"quantization\": \"int8\", \"group_size\": 12}}", "kv_cache.group_size"));
        t.add(gen("negative residual", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"snapkv\", \"budget\": 64,"
                + " \"quantization\": \"int4\", \"residual\": -1}}", "kv_cache.residual"));
        t.add(gen("policy in capitals", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"H2O\", \"budget\": 64}}",
                "kv_cache.policy"));
        // the OpenAI endpoint
        t.add(v1("n 3", "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"n\": 3}", "n"));
        t.add(v1("best_of 2", "{\"prompt\": \"hi\", \"best_of\": 2}", "best_of"));
        t.add(v1("prompt missing", "{\"model\": \"tiny-llama\"}", "prompt"));
        t.add(v1("prompt null", "{\"prompt\": null}", "prompt"));
        t.add(v1("empty prompt list", "{\"prompt\": []}", "prompt"));
        t.add(v1("a boolean among prompts", "{\"prompt\": [\"a\", true]}", "prompt[1]"));
        t.add(v1("negative token id", "{\"prompt\": [[1, -2, 3]]}", "prompt[0][1]"));
        t.add(v1("max_tokens -1", "{\"prompt\": \"hi\", \"max_tokens\": -1}", "max_tokens"));
        t.add(v1("max_tokens 1e400", "{\"prompt\": \"hi\", \"max_tokens\": 1e400}", "max_tokens"));
        t.add(v1("temperature 2.5", "{\"prompt\": \"hi\", \"temperature\": 2.5}", "temperature"));
        t.add(v1("seed 2^64", "{\"prompt\": \"hi\", \"seed\": 18446744073709551616}", "seed"));
        t.add(v1("stream sometimes", "{\"prompt\": \"hi\", \"stream\": \"sometimes\"}", "stream"));
        t.add(v1("stream_options a string", "{\"prompt\": \"hi\", \"stream_options\": \"yes\"}", "stream_options"));
        t.add(v1("lone surrogate prompt", "{\"prompt\": \"\\udfff\"}", "prompt"));
        t.add(v1("random seed 1.5", "{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"random\", \"budget\": 64,"
                + " \"seed\": 1.5}}", "kv_cache.seed"));
        t.add(new Malformed("a path as the model", "/v1/completions", "application/json",
                "{\"model\": \"../../etc/passwd\", \"prompt\": \"hi\"}".getBytes(StandardCharsets.UTF_8), 404, "model"));
        return t.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformed")
    void malformedRequestIsA4xxProblemNamingTheField(Malformed m) {
        HttpResponse<String> r = HttpFixture.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + m.path()))
                .header("Content-Type", m.contentType())
                .header("Authorization", KEY)
                .POST(HttpRequest.BodyPublishers.ofByteArray(m.body()))
                .build());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(m.status());
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        JsonNode problem = JSON.readTree(r.body());
        assertThat(problem.path("status").asInt()).isEqualTo(m.status());
        assertThat(problem.path("detail").asString()).isNotBlank();
        if (m.field() != null) {
            assertThat(problem.path("field").asString()).isEqualTo(m.field());
            assertThat(problem.path("detail").asString()).startsWith(m.field() + ": ");
        }
        if (m.path().startsWith("/v1/")) {
            assertThat(problem.path("error").path("message").asString()).isEqualTo(problem.path("detail").asString());
        }
    }

    @Test
    void tableHasAtLeastThirtyRows() {
        assertThat(malformed().count()).isGreaterThanOrEqualTo(30);
    }

    @Test
    void unusualButValidTextIsServed() {
        for (String prompt : new String[] {"\u202Eabc\u200F", "a\u0000b", "\uFEFFhi", "e\u0301\u0301",
                "\uD83D\uDC69\u200D\uD83D\uDCBB", "\u05E9\u05DC\u05D5\u05DD"}) {
            String body = JSON.writeValueAsString(java.util.Map.of("prompt", prompt, "max_new_tokens", 2));
            HttpResponse<String> r = HttpFixture.send(HttpFixture.post(port, "/generate", body)
                    .header("Authorization", KEY).build());
            assertThat(r.statusCode()).as(prompt).isEqualTo(200);
        }
    }

    @Test
    void chunkedBodyOverTheLimitIs413() {
        byte[] body = ("{\"prompt\": \"" + "a".repeat(100_000) + "\"}").getBytes(StandardCharsets.UTF_8);
        HttpResponse<String> r = HttpFixture.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/generate"))
                .header("Content-Type", "application/json")
                .header("Authorization", KEY)
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))) // no length
                .build());
        assertThat(r.statusCode()).isEqualTo(413);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        assertThat(JSON.readTree(r.body()).path("detail").asString()).contains("kvlab.serving.max-body-size");
    }

    @Test
    void apiKeyGuardsEverythingButHealthAndPrometheus() {
        HttpResponse<String> none = get("/model", null);
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"kvlab\"");
        assertThat(none.headers().firstValue("Content-Type")).hasValue("application/problem+json");

        HttpResponse<String> wrong = get("/v1/models", "Bearer sk-wrong");
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(wrong.headers().firstValue("WWW-Authenticate").orElse("")).contains("invalid_token");
        assertThat(JSON.readTree(wrong.body()).path("error").path("code").asString()).isEqualTo("invalid_api_key");

        assertThat(get("/model", KEY).statusCode()).isEqualTo(200);
        assertThat(get("/v1/models", "bearer test-key").statusCode()).isEqualTo(200);
        assertThat(get("/capacity", null).statusCode()).isEqualTo(401);
        assertThat(get("/actuator/info", null).statusCode()).isEqualTo(401);
        assertThat(get("/actuator/health", null).statusCode()).isEqualTo(200);
        assertThat(get("/actuator/prometheus", null).statusCode()).isEqualTo(200);
        assertThat(get("/actuator/health/../../model", null).statusCode()).isIn(400, 401, 404);
        assertThat(HttpFixture.send(HttpFixture.post(port, "/generate", "{\"prompt\": \"hi\"}").build()).statusCode())
                .isEqualTo(401);
    }

    @Test
    void theConsolesStaticFilesLoadWithoutTheKeyAndNothingElseDoes() {
        for (String asset : List.of("/", "/index.html", "/favicon.ico", "/console/main.js", "/console/console.css",
                "/webjars/echarts/dist/echarts.min.js")) {
            assertThat(get(asset, null).statusCode()).as(asset).isEqualTo(200);
        }
        assertThat(get("/", null).body()).contains("<script type=\"module\"");
        assertThat(get("/status", null).statusCode()).isEqualTo(401);
        assertThat(get("/experiments", null).statusCode()).isEqualTo(401);
        assertThat(get("/console/../status", null).statusCode()).isIn(400, 401, 404);
        assertThat(get("/webjars/../model", null).statusCode()).isIn(400, 401, 404);
        assertThat(HttpFixture.send(HttpFixture.post(port, "/", "{}").build()).statusCode()).isEqualTo(401);
        assertThat(HttpFixture.send(HttpFixture.post(port, "/console/x", "{}").build()).statusCode()).isEqualTo(401);
    }

    private HttpResponse<String> get(String path, String authorization) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).GET();
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return HttpFixture.send(b.build());
    }
}
