package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.beans.factory.annotation.Autowired;
import tools.jackson.databind.json.JsonMapper;

/**
 * A client that hangs up on a non-streaming generation cancels it, as a streaming one does: over a
 * real port, from a raw socket that is closed while the response is still being generated.
 */
class ClientDisconnectIntegrationTest extends ServingIntegrationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @Autowired
    MeterRegistry registry;

    @ParameterizedTest(name = "{0}")
    @CsvSource({"/generate, max_new_tokens", "/v1/completions, max_tokens"})
    void clientThatHangsUpCancelsItsGenerationAndFreesItsCache(String path, String maxTokens) throws Exception {
        faults().delay(20); // 1000 tokens would take 20 s
        double before = generatedTokens();
        double atHangUp;
        try (Socket client = post(path, "{\"prompt\": \"abc\", \"" + maxTokens + "\": 1000}")) {
            awaitUntil(() -> generatedTokens() - before >= 3);
            assertThat(gauge("kvlab.requests.running")).isEqualTo(1);
            atHangUp = generatedTokens();
        }
        long hungUp = System.nanoTime();

        awaitUntil(() -> gauge("kvlab.requests.running") == 0);
        Duration stopped = Duration.ofNanos(System.nanoTime() - hungUp);
        assertThat(gauge("kvlab.requests.running")).isZero();
        assertThat(registry.get("kvlab.kv.cache.bytes").tag("policy", "full").gauge().value()).isZero();
        assertThat(stopped).isLessThan(Duration.ofSeconds(3));
        assertThat(generatedTokens() - atHangUp).isLessThan(150);

        faults().reset();
        HttpResponse<String> next = HttpFixture.send(HttpFixture.post(port, path,
                "{\"prompt\": \"abc\", \"" + maxTokens + "\": 3}").build());
        assertThat(next.statusCode()).isEqualTo(200);
    }

    @Test
    void clientThatHangsUpWhileQueuedGivesUpItsPlace() throws Exception {
        faults().delay(20);
        // the two slots (kvlab.serving.max-concurrent=2) taken by streams, read until they generate
        HttpResponse<InputStream> first = stream();
        HttpResponse<InputStream> second = stream();
        try {
            try (Socket queued = post("/generate", "{\"prompt\": \"abc\", \"max_new_tokens\": 10}")) {
                awaitUntil(() -> gauge("kvlab.requests.waiting") == 1);
            }
            awaitUntil(() -> gauge("kvlab.requests.waiting") == 0);
            assertThat(gauge("kvlab.requests.waiting")).isZero();
            assertThat(gauge("kvlab.requests.running")).isEqualTo(2);
        } finally {
            first.body().close();
            second.body().close();
        }
        awaitUntil(() -> gauge("kvlab.requests.running") == 0);
        assertThat(gauge("kvlab.requests.running")).isZero();
    }

    @Test
    void clientThatWaitsIsAnsweredHoweverLongItTakes() throws Exception {
        faults().delay(20); // 60 tokens: over a second, several looks at the connection
        HttpResponse<String> r = HttpFixture.send(HttpFixture.post(port, "/generate",
                "{\"prompt\": \"abc\", \"max_new_tokens\": 60}").build());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(r.body()).path("usage").path("completion_tokens").asInt()).isEqualTo(60);
    }

    /** Sends a complete JSON POST on a new connection and leaves the response unread. */
    private Socket post(String path, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        Socket socket = new Socket("localhost", port);
        OutputStream out = socket.getOutputStream();
        out.write(("POST " + path + " HTTP/1.1\r\nHost: localhost:" + port + "\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        return socket;
    }

    private HttpResponse<InputStream> stream() throws IOException {
        HttpResponse<InputStream> r = HttpFixture.open(HttpFixture.post(port, "/generate",
                "{\"prompt\": \"abc\", \"max_new_tokens\": 1000, \"stream\": true}").build());
        new HttpFixture.SseReader(r.body()).next(); // the first token: it is running
        return r;
    }

    private double generatedTokens() {
        return registry.get("kvlab.generated.tokens").tag("policy", "full").counter().count();
    }

    private double gauge(String name) {
        return registry.get(name).gauge().value();
    }

    private static void awaitUntil(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
    }
}
