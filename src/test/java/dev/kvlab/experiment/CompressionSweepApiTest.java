package dev.kvlab.experiment;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

/**
 * The {@code compression-sweep} kind end to end, in {@link ExperimentApiTest}'s server (same settings
 * and model, so the two share one application context).
 */
@Import(StatementLog.class)
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"kvlab.device=cpu", "kvlab.prefill.chunk=8", "kvlab.experiments.max-cells=12",
                "kvlab.experiments.max-length=4096", "kvlab.experiments.poll-interval=100ms"})
class CompressionSweepApiTest {

    @DynamicPropertySource
    static void model(DynamicPropertyRegistry registry) {
        registry.add("kvlab.model.path", ExperimentApiTest.MODEL_DIR::toString);
    }

    @LocalServerPort
    int port;

    ExperimentClient http;

    @BeforeEach
    void client() {
        http = new ExperimentClient(port);
    }

    /** Quality against the share of the cache removed, per policy, with full as the reference. */
    @Test
    void compressionSweepScoresEveryPolicyAtEveryRatioAgainstFull() {
        String path = http.create("{\"kind\": \"compression-sweep\", \"policies\": [{\"policy\": \"h2o\"},"
                + " {\"policy\": \"snapkv\", \"window\": 2}], \"ratios\": [0.5, 0.75], \"context_lengths\": [48],"
                + " \"depths\": [0.5], \"trials\": 2, \"tokens\": 40, \"filler\": \"repeated\"}");
        JsonNode r = http.awaitFinished(path, Duration.ofMinutes(2));
        assertThat(r.path("results")).hasSize(10); // (full + 2 policies × 2 ratios) × 2 tasks
        Map<String, Double> keptShare = new HashMap<>();
        for (JsonNode row : r.path("results")) {
            assertThat(row.path("status").asString()).isEqualTo("succeeded");
            if (row.path("task").asString().equals("passkey")) {
                assertThat(row.path("documents").asInt()).isEqualTo(2);
                assertThat(row.path("accuracy").asDouble()).isBetween(0.0, 1.0);
            } else {
                assertThat(row.path("perplexity").asDouble()).isGreaterThan(1.0);
                keptShare.put(row.path("policy").asString(), row.path("kept_share").asDouble());
            }
            if (!row.path("policy").asString().equals("full")) {
                assertThat(row.has("score_vs_full")).as(row.toString()).isTrue();
            }
        }
        assertThat(keptShare.get("full")).isEqualTo(1.0);
        assertThat(keptShare.get("h2o/0.25")).isLessThan(keptShare.get("h2o/0.5")).isLessThan(1.0);
        assertThat(http.get(path + "/report").body()).contains("Pass-key accuracy against compression ratio",
                "Perplexity against compression ratio", "{&quot;policy&quot;:&quot;h2o&quot;").doesNotContain("{policy=");
    }
}
