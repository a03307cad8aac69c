package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kvlab.generation.Generator;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.serving.HttpFixture.SseEvent;
import dev.kvlab.serving.HttpFixture.SseReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Admission control and the memory guard over a real port: two generations at a time, four waiting,
 * and a memory limit of the weights plus 200 KB, so long {@code full} caches do not fit while bounded
 * policies do.
 */
@DirtiesContext // used by this class only: do not keep its server and threads alive for later tests
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"kvlab.device=cpu", "kvlab.prefill.chunk=8", "kvlab.serving.max-concurrent=2",
                "kvlab.serving.max-queue=4"})
@Import(FaultyModel.Hook.class)
class AdmissionIntegrationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Path MODEL_DIR = HttpFixture.tinyModel("tiny-llama");
    private static final String LONG_PROMPT = "The quick brown fox jumps over the lazy dog";

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("kvlab.model.path", MODEL_DIR::toString);
        registry.add("kvlab.memory.limit", () -> weightsFileBytes() + 200 * 1024);
    }

    private static long weightsFileBytes() {
        try {
            return Files.size(MODEL_DIR.resolve("model.safetensors"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @LocalServerPort
    int port;

    @Autowired
    TransformerModel model;

    @Autowired
    Generator generator;

    @AfterEach
    void resetFaults() {
        ((FaultyModel) model).reset();
    }

    private HttpResponse<String> generate(String body) {
        return HttpFixture.send(HttpFixture.post(port, "/generate", body).build());
    }

    @Test
    void twentyConcurrentClientsGetOnly200Or429AndEveryCacheIsReleased() throws Exception {
        ((FaultyModel) model).delay(10); // each request holds its slot for 20+ forward passes
        int clients = 20;
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<int[]>> results = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            boolean stream = i % 2 == 0;
            results.add(pool.submit(() -> {
                go.await();
                return call(stream);
            }));
        }
        go.countDown();
        int ok = 0;
        int busy = 0;
        for (Future<int[]> f : results) {
            int[] r = f.get(120, TimeUnit.SECONDS);
            assertThat(r[0]).as("status").isIn(200, 429);
            if (r[0] == 200) {
                ok++;
            } else {
                assertThat(r[1]).as("Retry-After seconds").isPositive();
                busy++;
            }
        }
        pool.shutdown();
        assertThat(ok).isGreaterThanOrEqualTo(2);
        assertThat(busy).isPositive();
        assertThat(ok + busy).isEqualTo(clients);

        String scrape = HttpFixture.get(port, "/actuator/prometheus");
        assertThat(HttpFixture.metric(scrape, "kvlab_requests_running", null)).isZero();
        assertThat(HttpFixture.metric(scrape, "kvlab_requests_waiting", null)).isZero();
        assertThat(HttpFixture.metric(scrape, "kvlab_kv_cache_bytes", null)).isZero();
        assertThat(HttpFixture.metric(scrape, "kvlab_kv_cache_tokens", null)).isZero();
        assertThat(HttpFixture.metric(scrape, "kvlab_kv_cache_full_bytes", null)).isZero();
        assertThat(JSON.readTree(HttpFixture.get(port, "/capacity")).path("reserved_bytes").asLong()).isZero();
    }

    /** One client: status and Retry-After; a streamed 200 must end with its {@code done} event. */
    private int[] call(boolean stream) throws IOException {
        String body = "{\"prompt\": \"abc\", \"max_new_tokens\": 20, \"stream\": " + stream + "}";
        HttpResponse<InputStream> r = HttpFixture.open(HttpFixture.post(port, "/generate", body).build());
        int retryAfter = r.headers().firstValue("Retry-After").map(Integer::parseInt).orElse(0);
        try (SseReader reader = new SseReader(r.body())) {
            if (r.statusCode() == 200 && stream) {
                List<SseEvent> events = reader.all();
                assertThat(events.get(events.size() - 1).event()).isEqualTo("done");
            } else {
                reader.all();
            }
        }
        return new int[] {r.statusCode(), retryAfter};
    }

    @Test
    void requestThatCannotFitIs507WithTheFiguresWhileABoundedPolicyFits() {
        String labels = "phase=\"prefill\",policy=\"full\",source=\"budget\"";
        double before = HttpFixture.metric(HttpFixture.get(port, "/actuator/prometheus"), "kvlab_oom_events_total",
                labels);
        HttpResponse<String> refused = generate("{\"prompt\": \"abc\", \"max_new_tokens\": 1000}");
        assertThat(refused.statusCode()).isEqualTo(507);
        assertThat(refused.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        JsonNode problem = JSON.readTree(refused.body());
        assertThat(problem.path("kv_bytes_per_token").asLong()).isEqualTo(model.kvSpec().bytesPerToken());
        assertThat(problem.path("required_bytes").asLong()).isGreaterThan(problem.path("available_bytes").asLong());
        assertThat(problem.path("limited_by").asString()).isEqualTo("budget");
        assertThat(HttpFixture.metric(HttpFixture.get(port, "/actuator/prometheus"), "kvlab_oom_events_total",
                labels)).isEqualTo(before + 1);

        HttpResponse<String> bounded = generate("""
                {"prompt": "abc", "max_new_tokens": 1000, "kv_cache": {"policy": "streaming", "budget": 16}}""");
        assertThat(bounded.statusCode()).isEqualTo(200);
    }

    @Test
    void capacityPredictsExactlyWhatIsAdmitted() {
        JsonNode capacity = JSON.readTree(HttpFixture.get(port, "/capacity?policy=full"));
        assertThat(capacity.path("limited_by").asString()).isEqualTo("budget");
        long maxTokens = capacity.path("max_tokens").asLong();
        int promptTokens = generator.promptTokens(LONG_PROMPT).length;
        assertThat(promptTokens).isGreaterThanOrEqualTo(8); // at least a prefill chunk, as /capacity assumes
        long fits = maxTokens - promptTokens;
        assertThat(fits).isBetween(1L, 1024L);

        assertThat(generate("{\"prompt\": \"" + LONG_PROMPT + "\", \"max_new_tokens\": " + (fits + 1) + "}")
                .statusCode()).isEqualTo(507);
        assertThat(generate("{\"prompt\": \"" + LONG_PROMPT + "\", \"max_new_tokens\": " + fits + "}")
                .statusCode()).isEqualTo(200);

        JsonNode streaming = JSON.readTree(HttpFixture.get(port, "/capacity?policy=streaming&budget=16"));
        assertThat(streaming.path("max_tokens").asString()).isEqualTo("unbounded");
        JsonNode huge = JSON.readTree(HttpFixture.get(port, "/capacity?policy=streaming&budget=100000"));
        assertThat(huge.path("max_tokens").asLong()).isZero();
    }
}
