package dev.kvlab.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The real tools on the deployment files, where they are installed (Debian: {@code apt-get install
 * prometheus docker-compose}); skipped, saying so, where they are not.
 */
class DeploymentToolsTest {

    @TempDir
    Path tmp;

    private record Run(int exitCode, String output) {}

    private static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        return path != null && List.of(path.split(File.pathSeparator)).stream()
                .anyMatch(dir -> Files.isExecutable(Path.of(dir, tool)));
    }

    private static Run run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        process.getOutputStream().close();
        byte[] output = process.getInputStream().readAllBytes();
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).as("%s finished", String.join(" ", command)).isTrue();
        return new Run(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    }

    @Test
    void promtoolAcceptsThePrometheusConfig() throws Exception {
        assumeTrue(onPath("promtool"), "promtool is not installed (Debian package prometheus)");
        Run check = run("promtool", "check", "config", "docker/prometheus/prometheus.yml");
        assertThat(check.exitCode()).as(check.output()).isZero();
    }

    /** Each dashboard query, with Grafana's variables given values, as a recording rule Prometheus must parse. */
    @Test
    void promtoolParsesEveryDashboardQuery() throws Exception {
        assumeTrue(onPath("promtool"), "promtool is not installed (Debian package prometheus)");
        List<String> lines = new ArrayList<>(List.of("groups:", "  - name: kvlab-dashboard", "    rules:"));
        int n = 0;
        for (String expr : Dashboard.panelExpressions()) {
            String concrete = expr.replace("$__rate_interval", "1m").replace("$__range", "1h")
                    .replace("$instance", ".*").replace("$policy", ".*");
            assertThat(concrete).as("a Grafana variable without a stand-in").doesNotContain("$");
            lines.add("      - record: kvlab:dashboard_query_" + n++);
            lines.add("        expr: '" + concrete.replace("'", "''") + "'");
        }
        Path rules = tmp.resolve("dashboard-rules.yml");
        Files.write(rules, lines);
        Run check = run("promtool", "check", "rules", rules.toString());
        assertThat(check.exitCode()).as(check.output()).isZero();
        assertThat(check.output()).contains("SUCCESS: " + n + " rules found");
    }

    /** docker-compose merges the files as Docker would; its view must keep the GPU service out of the CPU stack. */
    @Test
    @SuppressWarnings("unchecked")
    void dockerComposeValidatesTheGpuAndCpuStacks() throws Exception {
        assumeTrue(onPath("docker-compose"), "docker-compose is not installed (Debian package docker-compose)");
        Run gpu = run("docker-compose", "-f", "docker-compose.yml", "config");
        assertThat(gpu.exitCode()).as(gpu.output()).isZero();
        Map<String, Object> gpuServices = (Map<String, Object>) yaml(gpu.output()).get("services");
        assertThat(gpuServices).containsOnlyKeys("kvlab", "postgres", "prometheus", "grafana");
        assertThat((Object) HelmChart.at(gpuServices, "kvlab", "deploy", "resources", "reservations", "devices", 0,
                "driver")).isEqualTo("nvidia");

        Run cpu = run("docker-compose", "-f", "docker-compose.yml", "-f", "docker-compose.cpu.yml", "config");
        assertThat(cpu.exitCode()).as(cpu.output()).isZero();
        Map<String, Object> cpuServices = (Map<String, Object>) yaml(cpu.output()).get("services");
        assertThat((List<String>) HelmChart.at(cpuServices, "kvlab", "profiles")).containsExactly("gpu");
        assertThat((Map<String, Object>) cpuServices.get("kvlab-cpu")).doesNotContainKeys("profiles", "deploy");
        assertThat((Object) HelmChart.at(cpuServices, "kvlab-cpu", "build", "dockerfile"))
                .isEqualTo("docker/Dockerfile.cpu");
    }

    private static Map<String, Object> yaml(String text) {
        return new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
    }
}
