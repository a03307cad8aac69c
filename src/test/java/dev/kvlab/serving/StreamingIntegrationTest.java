package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.EngineException;
import dev.kvlab.serving.HttpFixture.SseEvent;
import dev.kvlab.serving.HttpFixture.SseReader;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** {@code POST /generate} with {@code "stream": true}, read as server-sent events over a real port. */
class StreamingIntegrationTest extends ServingIntegrationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @Autowired
    MeterRegistry registry;

    private HttpResponse<InputStream> stream(String body) {
        return HttpFixture.open(HttpFixture.post(port, "/generate", body).build());
    }

    @Test
    void tokensArriveAsEventsThenDoneHoldsTheWholeResponse() throws Exception {
        HttpResponse<InputStream> response = stream("""
                {"prompt": "The quick brown fox", "max_new_tokens": 12, "temperature": 0.8, "seed": 7,
                 "stream": true}""");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("text/event-stream"));
        List<SseEvent> events;
        try (SseReader reader = new SseReader(response.body())) {
            events = reader.all();
        }
        SseEvent done = events.get(events.size() - 1);
        assertThat(done.event()).isEqualTo("done");
        List<SseEvent> tokens = events.subList(0, events.size() - 1);
        assertThat(tokens).allSatisfy(e -> assertThat(e.event()).isEqualTo("token"));

        StringBuilder text = new StringBuilder();
        int sampled = 0;
        for (SseEvent e : tokens) {
            JsonNode token = JSON.readTree(e.data());
            text.append(token.path("text").asString());
            if (!token.path("token_id").isNull()) {
                assertThat(token.path("token_id").asInt()).isNotNegative();
                sampled++;
            }
        }
        JsonNode whole = JSON.readTree(done.data());
        assertThat(whole.path("id").asString()).startsWith("gen-");
        assertThat(whole.path("text").asString()).isEqualTo(text.toString());
        assertThat(whole.path("usage").path("completion_tokens").asInt()).isEqualTo(sampled);
        assertThat(whole.path("kv_cache").path("policy").asString()).isEqualTo("full");

        // the same seed without streaming gives the same text
        String plain = HttpFixture.send(HttpFixture.post(port, "/generate", """
                {"prompt": "The quick brown fox", "max_new_tokens": 12, "temperature": 0.8, "seed": 7}""")
                .build()).body();
        assertThat(JSON.readTree(plain).path("text").asString()).isEqualTo(text.toString());
    }

    @Test
    void problemsFoundBeforeGenerationAreNotStreamed() {
        HttpResponse<String> r = HttpFixture.send(HttpFixture.post(port, "/generate",
                "{\"prompt\": \"hi\", \"stream\": true, \"max_new_tokens\": -1}").build());
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/problem+json");
    }

    @Test
    void outOfMemoryMidStreamIsAnErrorEventAndTheServerRecovers() throws Exception {
        double before = oomEvents("decode");
        faults().failAfter(4, new EngineException("CUDA out of memory. Tried to allocate 2.00 GiB"));
        HttpResponse<InputStream> response = stream("""
                {"prompt": "abc", "max_new_tokens": 50, "stream": true}""");
        List<SseEvent> events;
        try (SseReader reader = new SseReader(response.body())) {
            events = reader.all();
        }
        SseEvent last = events.get(events.size() - 1);
        assertThat(last.event()).isEqualTo("error");
        JsonNode problem = JSON.readTree(last.data());
        assertThat(problem.path("status").asInt()).isEqualTo(507);
        assertThat(problem.path("detail").asString()).contains("out of memory");
        assertThat(events.subList(0, events.size() - 1)).isNotEmpty()
                .allSatisfy(e -> assertThat(e.event()).isEqualTo("token"));
        assertThat(oomEvents("decode")).isEqualTo(before + 1);

        awaitIdle();
        assertThat(HttpFixture.send(HttpFixture.post(port, "/generate", "{\"prompt\": \"abc\", \"max_new_tokens\": 3}")
                .build()).statusCode()).isEqualTo(200);
    }

    @Test
    void clientThatDisconnectsCancelsItsGenerationAndFreesItsCache() throws Exception {
        faults().delay(20); // 1000 tokens would take 20 s
        double generatedBefore = generatedTokens();
        HttpResponse<InputStream> response = stream("""
                {"prompt": "abc", "max_new_tokens": 1000, "stream": true}""");
        SseReader reader = new SseReader(response.body());
        for (int i = 0; i < 3; i++) {
            assertThat(reader.next().event()).isEqualTo("token");
        }
        assertThat(gauge("kvlab.requests.running")).isEqualTo(1);
        reader.close(); // the JDK client drops the connection

        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (gauge("kvlab.requests.running") > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(gauge("kvlab.requests.running")).isZero();
        assertThat(registry.get("kvlab.kv.cache.bytes").tag("policy", "full").gauge().value()).isZero();
        assertThat(generatedTokens() - generatedBefore).isLessThan(500);
    }

    @Test
    void cacheGaugeGrowsThenFlattensUnderABoundedPolicy() throws Exception {
        faults().delay(5);
        long budget = 16;
        long flat = budget * model.kvSpec().bytesPerToken();
        HttpResponse<InputStream> response = stream("""
                {"prompt": "abc", "max_new_tokens": 60, "stream": true,
                 "kv_cache": {"policy": "streaming", "budget": 16}}""");
        List<Double> samples = new ArrayList<>();
        try (SseReader reader = new SseReader(response.body())) {
            for (SseEvent e = reader.next(); e != null && e.event().equals("token"); e = reader.next()) {
                samples.add(registry.get("kvlab.kv.cache.bytes").tag("policy", "streaming").gauge().value());
            }
        }
        while (!samples.isEmpty() && samples.get(samples.size() - 1) == 0) {
            samples.remove(samples.size() - 1); // read after the request had ended and released its cache
        }
        assertThat(samples).hasSizeGreaterThan(30);
        assertThat(samples.get(0)).isPositive().isLessThan(flat);
        for (int i = 1; i < samples.size(); i++) {
            assertThat(samples.get(i)).isGreaterThanOrEqualTo(samples.get(i - 1));
        }
        assertThat(samples.subList(samples.size() - 20, samples.size())).containsOnly((double) flat);
        awaitIdle();
        assertThat(registry.get("kvlab.kv.cache.bytes").tag("policy", "streaming").gauge().value()).isZero();
    }

    private double oomEvents(String phase) {
        return registry.get("kvlab.oom.events").tag("policy", "full").tag("phase", phase).tag("source", "device")
                .counter().count();
    }

    private double generatedTokens() {
        return registry.get("kvlab.generated.tokens").tag("policy", "full").counter().count();
    }

    private double gauge(String name) {
        return registry.get(name).gauge().value();
    }

    private void awaitIdle() throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (gauge("kvlab.requests.running") > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
    }
}
