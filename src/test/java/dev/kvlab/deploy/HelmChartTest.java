package dev.kvlab.deploy;

import static dev.kvlab.deploy.HelmChart.at;
import static dev.kvlab.deploy.HelmChart.only;
import static dev.kvlab.deploy.HelmChart.render;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import dev.kvlab.deploy.HelmChart.Manifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** {@code helm lint --strict} and {@code helm template} of helm/kvlab under the value sets operators use. */
class HelmChartTest {

    private static Map<String, Object> container(List<Manifest> manifests) {
        return at(only(manifests, "Deployment").body(), "spec", "template", "spec", "containers", 0);
    }

    private static Map<String, Object> podSpec(List<Manifest> manifests) {
        return at(only(manifests, "Deployment").body(), "spec", "template", "spec");
    }

    /** The container's env: plain values, and "secret:NAME/KEY" for secret references. */
    private static Map<String, String> env(List<Manifest> manifests) {
        List<Map<String, Object>> env = at(container(manifests), "env");
        Map<String, String> out = new HashMap<>();
        for (Map<String, Object> e : env) {
            Map<String, Object> ref = at(e, "valueFrom", "secretKeyRef");
            out.put((String) e.get("name"), ref != null ? "secret:" + ref.get("name") + "/" + ref.get("key")
                    : String.valueOf(e.get("value")));
        }
        return out;
    }

    private static Map<String, String> configMap(List<Manifest> manifests) {
        Manifest config = manifests.stream().filter(m -> m.kind().equals("ConfigMap") && m.name().equals("kvlab"))
                .findFirst().orElseThrow();
        Map<String, Object> data = at(config.body(), "data");
        return data.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> String.valueOf(e.getValue())));
    }

    @Test
    void lintStrictPasses() {
        LintResult lint = new Helm(HelmChart.CHART).lint().strict().call();
        assertThat(lint.isFailed()).as(String.join("\n", lint.getMessages())).isFalse();
        assertThat(lint.getMessages()).noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
    }

    @Test
    void defaultsAskForOneGpuAndProbeTheActuatorHealthGroups() {
        List<Manifest> m = render(Map.of());

        assertThat(m).extracting(Manifest::kind).containsExactlyInAnyOrder("ConfigMap", "Secret", "Service",
                "Deployment");
        Map<String, Object> c = container(m);
        assertThat(c.get("image")).isEqualTo("kvlab:cuda");
        assertThat((Object) at(c, "resources", "limits", "nvidia.com/gpu")).isEqualTo(1);
        assertThat((Object) at(c, "resources", "limits", "memory")).isEqualTo("16Gi");
        assertThat((Object) at(c, "livenessProbe", "httpGet", "path")).isEqualTo("/actuator/health/liveness");
        assertThat((Object) at(c, "readinessProbe", "httpGet", "path")).isEqualTo("/actuator/health/readiness");
        assertThat((Object) at(c, "startupProbe", "httpGet", "path")).isEqualTo("/actuator/health/liveness");
        assertThat((Object) at(c, "securityContext", "readOnlyRootFilesystem")).isEqualTo(true);
        assertThat(podSpec(m)).doesNotContainKey("runtimeClassName");

        Map<String, String> config = configMap(m);
        assertThat(config).containsEntry("KVLAB_MODEL_PATH", "/models/kvlab-tiny")
                .containsEntry("KVLAB_MODEL_CACHEDIR", "/models/hub")
                .containsEntry("KVLAB_DEVICE", "auto")
                .containsEntry("KVLAB_SERVING_MAXCONCURRENT", "0")
                .doesNotContainKey("SPRING_DATASOURCE_URL");
        assertThat(env(m)).containsEntry("KVLAB_SECURITY_APIKEY", "secret:kvlab/api-key")
                .containsEntry("HF_TOKEN", "secret:kvlab/hf-token")
                .doesNotContainKey("SPRING_DATASOURCE_PASSWORD");
        Map<String, Object> secretData = at(only(m, "Secret").body(), "data");
        assertThat(secretData).isNull(); // nothing secret was given
    }

    @Test
    void gpuOffRunsTheCpuImageOnTheCpuWithoutGpuLimits() {
        List<Manifest> m = render(Map.of("gpu.enabled", false));

        Map<String, Object> c = container(m);
        assertThat(c.get("image")).isEqualTo("kvlab:cpu");
        assertThat((Map<String, Object>) at(c, "resources", "limits")).doesNotContainKey("nvidia.com/gpu");
        assertThat(configMap(m)).containsEntry("KVLAB_DEVICE", "cpu");
    }

    @Test
    void gpuCountRuntimeClassAndHubModelAreRendered() {
        List<Manifest> m = render(Map.of("gpu.count", 2, "runtimeClassName", "nvidia",
                "kvlab.model.id", "openai-community/gpt2", "hub.token", "hf_abc", "persistence.models.enabled", true));

        assertThat((Object) at(container(m), "resources", "limits", "nvidia.com/gpu")).isEqualTo(2);
        assertThat(podSpec(m)).containsEntry("runtimeClassName", "nvidia");
        assertThat(configMap(m)).containsEntry("KVLAB_MODEL_ID", "openai-community/gpt2");
        assertThat(decoded(only(m, "Secret"), "hf-token")).isEqualTo("hf_abc");
        Manifest pvc = only(m, "PersistentVolumeClaim");
        assertThat(pvc.name()).isEqualTo("kvlab-models");
        List<Map<String, Object>> volumes = at(podSpec(m), "volumes");
        assertThat(volumes).anySatisfy(v -> assertThat((Object) at(v, "persistentVolumeClaim", "claimName"))
                .isEqualTo("kvlab-models"));
    }

    @Test
    void anApiKeyGoesIntoTheSecretAndTheContainerReadsItFromThere() {
        List<Manifest> m = render(Map.of("security.apiKey", "s3cret"));

        assertThat(decoded(only(m, "Secret"), "api-key")).isEqualTo("s3cret");
        assertThat(env(m)).containsEntry("KVLAB_SECURITY_APIKEY", "secret:kvlab/api-key");
        assertThat(configMap(m).values()).noneMatch(v -> v.contains("s3cret"));
    }

    @Test
    void twoReplicasShareOnePostgresql() {
        List<Manifest> m = render(Map.of("replicaCount", 2, "database.url", "jdbc:postgresql://pg:5432/kvlab",
                "database.password", "pw"));

        assertThat((Object) at(only(m, "Deployment").body(), "spec", "replicas")).isEqualTo(2);
        assertThat(configMap(m)).containsEntry("SPRING_DATASOURCE_URL", "jdbc:postgresql://pg:5432/kvlab")
                .containsEntry("SPRING_DATASOURCE_USERNAME", "kvlab");
        assertThat(env(m)).containsEntry("SPRING_DATASOURCE_PASSWORD", "secret:kvlab/database-password");
        assertThat(decoded(only(m, "Secret"), "database-password")).isEqualTo("pw");
    }

    @Test
    void twoReplicasWithoutADatabaseFailWithAMessageSayingWhatToSet() {
        assertThatThrownBy(() -> render(Map.of("replicaCount", 2)))
                .hasMessageContaining("replicaCount is 2 but database.url is empty")
                .hasMessageContaining("jdbc:postgresql://");
    }

    @Test
    void theSchemaRefusesMistypedValues() {
        assertThatThrownBy(() -> render(Map.of("gpu.count", 0))).hasMessageContaining("gpu");
        assertThatThrownBy(() -> render(Map.of("replicaCounts", 2))).hasMessageContaining("replicaCounts");
        assertThatThrownBy(() -> render(Map.of("kvlab.device", "tpu"))).hasMessageContaining("device");
    }

    @Test
    void anExistingSecretReplacesTheChartsOwn() {
        List<Manifest> m = render(Map.of("existingSecret", "my-secrets", "database.url",
                "jdbc:postgresql://pg/kvlab"));

        assertThat(m).extracting(Manifest::kind).doesNotContain("Secret");
        assertThat(env(m)).containsEntry("KVLAB_SECURITY_APIKEY", "secret:my-secrets/api-key")
                .containsEntry("SPRING_DATASOURCE_PASSWORD", "secret:my-secrets/database-password");
    }

    @Test
    void serviceMonitorAndDashboardShipTheOneDashboard() throws Exception {
        List<Manifest> m = render(Map.of("metrics.serviceMonitor.enabled", true, "grafana.dashboard.enabled", true));

        Manifest monitor = only(m, "ServiceMonitor");
        assertThat((Object) at(monitor.body(), "spec", "endpoints", 0, "path")).isEqualTo("/actuator/prometheus");
        assertThat((Object) at(monitor.body(), "spec", "endpoints", 0, "port")).isEqualTo("http");
        Manifest dashboard = m.stream().filter(x -> x.name().equals("kvlab-dashboard")).findFirst().orElseThrow();
        assertThat((Object) at(dashboard.body(), "metadata", "labels", "grafana_dashboard")).isEqualTo("1");
        String json = at(dashboard.body(), "data", "kvlab.json");
        assertThat(json).isEqualTo(Files.readString(Path.of("helm/kvlab/dashboards/kvlab.json")).strip());
    }

    private static String decoded(Manifest secret, String key) {
        String value = at(secret.body(), "data", key);
        return new String(Base64.getDecoder().decode(value));
    }
}
