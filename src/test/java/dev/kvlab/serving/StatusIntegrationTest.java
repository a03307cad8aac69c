package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kvlab.serving.HttpFixture.SseEvent;
import dev.kvlab.serving.HttpFixture.SseReader;
import java.io.InputStream;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** {@code GET /status}: the live panel's figures follow a running request and return to idle. */
class StatusIntegrationTest extends ServingIntegrationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private JsonNode status() {
        return JSON.readTree(HttpFixture.get(port, "/status"));
    }

    @Test
    void aRunningRequestShowsInTheStatusAndLeavesNothingBehind() throws Exception {
        JsonNode idle = status();
        assertThat(idle.path("requests").path("running").asInt()).isZero();
        assertThat(idle.path("requests").path("max_concurrent").asInt()).isPositive();
        assertThat(idle.path("requests").path("max_batch_tokens").asInt())
                .isGreaterThan(idle.path("requests").path("max_concurrent").asInt());
        assertThat(idle.path("kv_cache").path("live_bytes").asLong()).isZero();
        assertThat(idle.path("kv_cache").path("bytes_per_token").asLong()).isEqualTo(model.kvSpec().bytesPerToken());
        assertThat(idle.path("memory").path("device").asString()).isEqualTo("cpu");
        assertThat(idle.path("memory").path("total_bytes").asLong()).isPositive();
        assertThat(idle.path("memory").path("weights_bytes").asLong()).isPositive();

        JsonNode busy;
        try (InputStream in = HttpFixture.open(HttpFixture.post(port, "/generate", """
                {"prompt": "The quick brown fox", "max_new_tokens": 500, "stream": true,
                 "kv_cache": {"policy": "full"}}""").build()).body(); SseReader events = new SseReader(in)) {
            SseEvent first = events.next();
            while (first != null && !"token".equals(first.event())) {
                first = events.next();
            }
            assertThat(first).isNotNull();
            busy = status();
        }
        assertThat(busy.path("requests").path("running").asInt()).isEqualTo(1);
        assertThat(busy.path("kv_cache").path("live_bytes").asLong()).isPositive();
        assertThat(busy.path("kv_cache").path("reserved_bytes").asLong())
                .isGreaterThanOrEqualTo(busy.path("kv_cache").path("live_bytes").asLong());
        long deadline = System.nanoTime() + 10_000_000_000L; // the hung-up stream is cancelled within a step
        while (status().path("requests").path("running").asInt() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(status().path("requests").path("running").asInt()).isZero();
        assertThat(status().path("kv_cache").path("live_bytes").asLong()).isZero();
    }
}
