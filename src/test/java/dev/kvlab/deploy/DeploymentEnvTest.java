package dev.kvlab.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kvlab.config.KvlabProperties;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.util.unit.DataSize;

/**
 * Every KVLAB_* variable the images, the compose files and the Helm chart set must name a real
 * {@code kvlab.*} property (relaxed binding ignores a misspelt one silently), and their values bind.
 */
class DeploymentEnvTest {

    /** KVLAB_ + the property path in capitals with dashes dropped, for every leaf of KvlabProperties. */
    static Set<String> kvlabEnvironmentNames() {
        Set<String> names = new TreeSet<>();
        collect(KvlabProperties.class, "KVLAB", names);
        return names;
    }

    private static void collect(Class<?> type, String prefix, Set<String> names) {
        for (RecordComponent c : type.getRecordComponents()) {
            String name = prefix + "_" + c.getName().toUpperCase(Locale.ROOT);
            if (c.getType().isRecord()) {
                collect(c.getType(), name, names);
            } else {
                names.add(name);
            }
        }
    }

    private static KvlabProperties bind(Map<String, String> env) {
        Map<String, Object> source = new HashMap<>(env);
        return new Binder(ConfigurationPropertySources.from(new SystemEnvironmentPropertySource("systemEnvironment", source)))
                .bindOrCreate("kvlab", KvlabProperties.class);
    }

    @SuppressWarnings("unchecked")
    private static Set<String> composeEnvironmentNames(String file) {
        Set<String> names = new TreeSet<>();
        Map<String, Object> services = (Map<String, Object>) DeployFiles.yaml(file).get("services");
        for (Object service : services.values()) {
            Object env = ((Map<String, Object>) service).get("environment");
            if (env instanceof Map<?, ?> map) {
                map.keySet().forEach(k -> names.add((String) k));
            }
        }
        return names;
    }

    private static Map<String, String> helmEnvironment(Map<String, Object> values) {
        List<HelmChart.Manifest> manifests = HelmChart.render(values);
        Map<String, String> env = new HashMap<>();
        for (HelmChart.Manifest m : manifests) {
            if (m.kind().equals("ConfigMap") && m.name().equals("kvlab")) {
                Map<String, Object> data = HelmChart.at(m.body(), "data");
                data.forEach((k, v) -> env.put(k, String.valueOf(v)));
            }
        }
        List<Map<String, Object>> containerEnv = HelmChart.at(HelmChart.only(manifests, "Deployment").body(),
                "spec", "template", "spec", "containers", 0, "env");
        containerEnv.forEach(e -> env.putIfAbsent((String) e.get("name"), "from-secret"));
        return env;
    }

    @Test
    void theNamesAreDerivedFromTheProperties() {
        assertThat(kvlabEnvironmentNames()).contains("KVLAB_MODEL_PATH", "KVLAB_MODEL_ID", "KVLAB_MODEL_CACHEDIR",
                "KVLAB_DEVICE", "KVLAB_MEMORY_LIMIT", "KVLAB_SERVING_MAXCONCURRENT", "KVLAB_SECURITY_APIKEY");
    }

    @Test
    void everyKvlabVariableSetAnywhereNamesAProperty() {
        Set<String> used = new TreeSet<>();
        used.addAll(DeployFiles.runtimeEnv("docker/Dockerfile").keySet());
        used.addAll(DeployFiles.runtimeEnv("docker/Dockerfile.cpu").keySet());
        used.addAll(DeployFiles.envFile("docker/kvlab.env").keySet());
        used.addAll(composeEnvironmentNames("docker-compose.yml"));
        used.addAll(composeEnvironmentNames("docker-compose.cpu.yml"));
        used.addAll(helmEnvironment(Map.of("kvlab.memoryLimit", "8GB", "security.apiKey", "k")).keySet());
        used.removeIf(name -> !name.startsWith("KVLAB_"));

        assertThat(used).hasSizeGreaterThan(8);
        assertThat(kvlabEnvironmentNames()).containsAll(used);
    }

    @Test
    void theImagesAndTheChartBindToTheSettingsTheyMean() {
        KvlabProperties cuda = bind(DeployFiles.runtimeEnv("docker/Dockerfile"));
        assertThat(cuda.model().dir()).isEqualTo(Path.of("/models/kvlab-tiny"));
        assertThat(cuda.model().cacheDir()).isEqualTo("/models/hub");
        assertThat(cuda.device()).isEqualTo("auto");
        assertThat(bind(DeployFiles.runtimeEnv("docker/Dockerfile.cpu")).device()).isEqualTo("cpu");

        Map<String, String> compose = new HashMap<>(DeployFiles.envFile("docker/kvlab.env"));
        KvlabProperties composed = bind(compose);
        assertThat(composed.serving().maxConcurrent(true)).as("batch size on the GPU host").isEqualTo(32);
        assertThat(composed.serving().maxConcurrent(false)).as("batch size on the CPU variant").isEqualTo(8);

        Map<String, String> helm = helmEnvironment(Map.of("kvlab.memoryLimit", "8GB", "kvlab.model.id",
                "openai-community/gpt2", "kvlab.serving.maxConcurrent", 3, "gpu.enabled", false));
        helm.remove("KVLAB_SECURITY_APIKEY"); // a secret reference, not a value
        KvlabProperties fromChart = bind(helm);
        assertThat(fromChart.model().id()).isEqualTo("openai-community/gpt2");
        assertThat(fromChart.memory().limit()).isEqualTo(DataSize.ofGigabytes(8));
        assertThat(fromChart.serving().maxConcurrent()).isEqualTo(3);
        assertThat(fromChart.device()).isEqualTo("cpu");
    }
}
