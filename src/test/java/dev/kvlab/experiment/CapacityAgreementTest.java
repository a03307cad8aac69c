package dev.kvlab.experiment;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

/**
 * {@code GET /capacity} and {@code oom-sweep} predict the same longest sequence for the same memory
 * limit, policy by policy: a full cache, fixed budgets (one that fits, one that does not), ratio
 * budgets and {@code compact_every}. The sweep's activation probe is off so both use the shape
 * formula; with it on, only the activation allowance differs.
 */
@DirtiesContext // used by this class only
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"kvlab.device=cpu", "kvlab.prefill.chunk=8", "kvlab.experiments.max-length=4096",
                "kvlab.experiments.poll-interval=100ms", "kvlab.experiments.activation-probe=false"})
class CapacityAgreementTest {

    /** The weights of the test model (f32) and room for a few hundred tokens of its cache. */
    private static final long LIMIT = weightsFileBytes() + 200 * 1024;

    private static final List<String> POLICIES = List.of(
            "{\"policy\": \"full\"}",
            "{\"policy\": \"h2o\", \"budget\": 16}",
            "{\"policy\": \"h2o\", \"budget\": 100000}",
            "{\"policy\": \"h2o\", \"budget\": 16, \"compact_every\": 4}",
            "{\"policy\": \"tova\", \"budget_ratio\": 0.5}",
            "{\"policy\": \"tova\", \"budget_ratio\": 0.25, \"compact_every\": 8}",
            "{\"policy\": \"pyramidkv\", \"budget_ratio\": 0.5, \"window\": 4}");

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("kvlab.model.path", ExperimentApiTest.MODEL_DIR::toString);
        registry.add("kvlab.memory.limit", () -> LIMIT);
    }

    @LocalServerPort
    int port;

    @Test
    void capacityAndTheOomSweepPredictTheSameLimit() {
        ExperimentClient http = new ExperimentClient(port);
        String path = http.create("{\"kind\": \"oom-sweep\", \"start_length\": 8, \"max_length\": 8, \"decode_tokens\": 0,"
                + " \"memory_limit_bytes\": " + LIMIT + ", \"policies\": [" + String.join(", ", POLICIES) + "]}");
        JsonNode sweep = http.awaitFinished(path, Duration.ofMinutes(2));
        assertThat(sweep.path("status").asString()).as(sweep.toString()).isEqualTo("succeeded");
        List<String> figures = new ArrayList<>();
        boolean someNumber = false;
        for (JsonNode row : sweep.path("results")) {
            assertThat(row.path("activation_source").asString()).isEqualTo("computed");
            JsonNode capacity = http.json("/capacity?" + query(row.path("kv_cache")));
            assertThat(capacity.path("limited_by").asString()).isEqualTo("budget");
            assertThat(capacity.path("available_bytes").asLong())
                    .isEqualTo(LIMIT - capacity.path("weights_bytes").asLong());
            JsonNode predicted = row.path("predicted_max_tokens");
            JsonNode max = capacity.path("max_tokens");
            String policy = row.path("policy").asString();
            figures.add(policy + ": capacity " + max + ", oom-sweep " + predicted);
            if (predicted.isNull()) {
                assertThat(max.asString()).as(policy).isEqualTo("unbounded");
            } else {
                assertThat(max.isNumber()).as(policy + " " + max).isTrue();
                assertThat(predicted.asLong()).as(policy).isEqualTo(max.asLong());
                someNumber |= predicted.asLong() > 0;
            }
        }
        System.out.println("capacity vs oom-sweep at " + LIMIT + " bytes: " + figures);
        assertThat(figures).hasSize(POLICIES.size());
        assertThat(someNumber).as("a growing cache has a positive limit: " + figures).isTrue();
        assertThat(figures).anyMatch(f -> f.contains("unbounded")).anyMatch(f -> f.contains("capacity 0"));
    }

    private static long weightsFileBytes() {
        try {
            return Files.size(ExperimentApiTest.MODEL_DIR.resolve("model.safetensors"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String query(JsonNode kvCache) {
        List<String> pairs = new ArrayList<>();
        kvCache.properties().forEach(e -> pairs.add(e.getKey() + "=" + e.getValue().asString()));
        return pairs.stream().collect(Collectors.joining("&"));
    }
}
