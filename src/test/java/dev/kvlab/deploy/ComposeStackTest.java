package dev.kvlab.deploy;

import static dev.kvlab.deploy.HelmChart.at;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * docker-compose.yml and its CPU override, read as YAML: the GPU reservation, the CPU variant that
 * replaces it under the same network name, and Prometheus and Grafana wired to kvlab and to the one
 * dashboard file. ({@link DeploymentToolsTest} also runs docker-compose and promtool on them.)
 */
class ComposeStackTest {

    private static Map<String, Object> service(String file, String name) {
        return at(DeployFiles.yaml(file), "services", name);
    }

    @Test
    void kvlabReservesNvidiaGpusAndWaitsForPostgres() {
        Map<String, Object> kvlab = service("docker-compose.yml", "kvlab");
        Map<String, Object> device = at(kvlab, "deploy", "resources", "reservations", "devices", 0);
        assertThat(device).containsEntry("driver", "nvidia");
        assertThat((List<String>) at(device, "capabilities")).containsExactly("gpu");
        assertThat((Object) at(kvlab, "build", "dockerfile")).isEqualTo("docker/Dockerfile");
        assertThat((Object) at(kvlab, "depends_on", "postgres", "condition")).isEqualTo("service_healthy");
        assertThat(DeployFiles.envFile("docker/kvlab.env"))
                .containsEntry("SPRING_DATASOURCE_URL", "jdbc:postgresql://postgres:5432/kvlab");
        assertThat(service("docker-compose.yml", "postgres")).isNotNull();
    }

    @Test
    void theCpuOverrideParksTheGpuServiceAndAnswersAsKvlab() {
        assertThat((List<String>) at(service("docker-compose.cpu.yml", "kvlab"), "profiles")).containsExactly("gpu");
        Map<String, Object> cpu = service("docker-compose.cpu.yml", "kvlab-cpu");
        assertThat(cpu).doesNotContainKey("deploy").doesNotContainKey("profiles");
        assertThat((Object) at(cpu, "build", "dockerfile")).isEqualTo("docker/Dockerfile.cpu");
        assertThat((List<String>) at(cpu, "networks", "default", "aliases")).contains("kvlab");
        assertThat(Path.of("docker/Dockerfile.cpu")).exists();
    }

    @Test
    void prometheusScrapesKvlabsActuatorEndpoint() {
        Map<String, Object> job = at(DeployFiles.yaml("docker/prometheus/prometheus.yml"), "scrape_configs", 0);
        assertThat(job).containsEntry("metrics_path", "/actuator/prometheus");
        assertThat((List<String>) at(job, "static_configs", 0, "targets")).containsExactly("kvlab:8080");
        List<String> volumes = at(service("docker-compose.yml", "prometheus"), "volumes");
        assertThat(volumes).contains("./docker/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro");
    }

    @Test
    void grafanaProvisionsThePrometheusDatasourceAndTheChartsDashboard() {
        List<String> volumes = at(service("docker-compose.yml", "grafana"), "volumes");
        assertThat(volumes).contains("./docker/grafana/provisioning:/etc/grafana/provisioning:ro");
        String dashboards = volumes.stream().filter(v -> v.startsWith("./helm/kvlab/dashboards:")).findFirst()
                .orElseThrow(() -> new AssertionError("grafana does not mount helm/kvlab/dashboards: " + volumes));
        String mountedAt = dashboards.split(":")[1];
        assertThat(Path.of(dashboards.split(":")[0])).isDirectory();

        Map<String, Object> provider = at(DeployFiles.yaml("docker/grafana/provisioning/dashboards/kvlab.yml"),
                "providers", 0);
        assertThat((Object) at(provider, "options", "path")).isEqualTo(mountedAt);
        Map<String, Object> datasource = at(DeployFiles.yaml("docker/grafana/provisioning/datasources/prometheus.yml"),
                "datasources", 0);
        assertThat(datasource).containsEntry("type", "prometheus").containsEntry("url", "http://prometheus:9090");
        assertThat((List<String>) at(service("docker-compose.yml", "prometheus"), "ports")).contains("9090:9090");
    }
}
