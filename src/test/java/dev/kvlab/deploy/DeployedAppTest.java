package dev.kvlab.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kvlab.testing.TinyModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.resttestclient.autoconfigure.AutoConfigureRestTestClient;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.servlet.client.RestTestClient;
import org.springframework.util.FileSystemUtils;

/**
 * A running kvlab as the deployments see it: after one generation, every metric the dashboard's
 * PromQL reads is in the {@code /actuator/prometheus} scrape (so no panel stays empty because of a
 * name), and the health paths the chart's probes and the images' healthchecks call answer.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"kvlab.device=cpu", "kvlab.prefill.chunk=8"})
@AutoConfigureRestTestClient
class DeployedAppTest {

    private static final Path MODEL_DIR = writeModel();

    @DynamicPropertySource
    static void model(DynamicPropertyRegistry registry) {
        registry.add("kvlab.model.path", MODEL_DIR::toString);
    }

    @Autowired
    RestTestClient client;

    private static Path writeModel() {
        try {
            Path dir = Files.createTempDirectory("kvlab-deployed-app-test");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    FileSystemUtils.deleteRecursively(dir);
                } catch (IOException ignored) {
                    // a temp folder left behind is harmless
                }
            }));
            return TinyModels.llama().writeTo(dir.resolve("tiny-llama")).dir();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Series names in a Prometheus text scrape (histograms as their _bucket, _sum and _count series). */
    private static Set<String> seriesNames(String scrape) {
        Set<String> names = new TreeSet<>();
        for (String line : scrape.split("\n")) {
            if (!line.isBlank() && !line.startsWith("#")) {
                int end = line.indexOf('{');
                names.add(line.substring(0, end >= 0 ? end : line.indexOf(' ')));
            }
        }
        return names;
    }

    @Test
    void everyMetricTheDashboardReadsIsExported() {
        client.post().uri("/generate").contentType(MediaType.APPLICATION_JSON)
                .body(Map.of("prompt", "dashboard", "max_new_tokens", 3))
                .exchange().expectStatus().isOk();
        String scrape = client.get().uri("/actuator/prometheus").exchange()
                .expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        Set<String> exported = seriesNames(scrape);

        Set<String> missing = new TreeSet<>(Dashboard.metricNames());
        missing.removeAll(exported);
        assertThat(missing)
                .as("metrics the dashboard (%s) queries but kvlab does not export; kvlab exports %s", Dashboard.FILE,
                        exported.stream().filter(n -> n.startsWith("kvlab_")).toList())
                .isEmpty();
    }

    @Test
    void theHealthPathsOfTheProbesAndHealthchecksAnswer() {
        for (String path : new String[] {"/actuator/health", "/actuator/health/liveness", "/actuator/health/readiness"}) {
            client.get().uri(path).exchange()
                    .expectStatus().isOk()
                    .expectBody().jsonPath("$.status").isEqualTo("UP");
        }
    }
}
