package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** {@code return_cache_map}: which token positions each layer's KV heads kept, as a client reads it. */
class CacheMapIntegrationTest extends ServingIntegrationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private JsonNode generate(String kvCache, boolean map) {
        HttpResponse<String> r = HttpFixture.send(HttpFixture.post(port, "/generate", """
                {"prompt": "The quick brown fox jumps over the lazy dog", "max_new_tokens": 12, "kv_cache": %s,
                 "return_cache_map": %s}""".formatted(kvCache, map)).build());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    @Test
    void theMapListsTheKeptPositionsOfEveryHeadAndTheRecentWindow() {
        JsonNode r = generate("{\"policy\": \"h2o\", \"budget\": 8, \"recent\": 3}", true);
        JsonNode map = r.path("cache_map");
        long seen = r.path("kv_cache").path("seen_tokens").asLong();
        assertThat(map.path("seen_tokens").asLong()).isEqualTo(seen);
        assertThat(map.path("layers")).hasSize(model.config().numLayers());
        for (JsonNode layer : map.path("layers")) {
            assertThat(layer).hasSize(model.kvSpec().kvHeads());
            for (JsonNode head : layer) {
                long kept = 0;
                long previousEnd = -1;
                for (JsonNode run : head.path("kept")) {
                    long first = run.get(0).asLong();
                    long length = run.get(1).asLong();
                    assertThat(first).isGreaterThan(previousEnd).isGreaterThanOrEqualTo(0);
                    assertThat(first + length).isLessThanOrEqualTo(seen);
                    previousEnd = first + length;
                    kept += length;
                }
                assertThat(kept).isEqualTo(r.path("kv_cache").path("stored_tokens").asLong());
                assertThat(previousEnd).as("the 3 newest tokens are protected").isEqualTo(seen);
                JsonNode last = head.path("kept").get(head.path("kept").size() - 1);
                assertThat(last.get(1).asLong()).isGreaterThanOrEqualTo(3);
                assertThat(head.path("merged").isEmpty()).as("h2o evicts, it never merges").isTrue();
            }
        }
        assertThat(generate("{\"policy\": \"h2o\", \"budget\": 8}", false).has("cache_map")).isFalse();
    }

    @Test
    void mergedSlotsAreListedWithTheTokensTheyStandFor() {
        JsonNode r = generate("{\"policy\": \"entropy-merge\", \"budget\": 8, \"similarity\": -1.0}", true);
        long seen = r.path("kv_cache").path("seen_tokens").asLong();
        for (JsonNode layer : r.path("cache_map").path("layers")) {
            for (JsonNode head : layer) {
                long tokens = 0;
                long slots = 0;
                for (JsonNode run : head.path("kept")) {
                    slots += run.get(1).asLong();
                }
                tokens += slots;
                for (JsonNode count : head.path("merged")) {
                    assertThat(count.asInt()).isGreaterThan(1);
                    tokens += count.asInt() - 1;
                }
                assertThat(tokens).as("every token seen is in a slot, alone or merged").isEqualTo(seen);
            }
        }
    }
}
