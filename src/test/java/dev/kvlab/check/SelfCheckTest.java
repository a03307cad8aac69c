package dev.kvlab.check;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kvlab.testing.GpuWay;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The engine self-check passes every check on a CPU and reports in the shape a GPU host will read. */
class SelfCheckTest {

    @TempDir
    static Path dir;

    @Test
    void everyCheckPassesOnTheCpuAndTheReportHasItsFigures() {
        Path model = TinyModels.llama().writeTo(dir.resolve("llama")).dir();
        Map<String, Object> report = GpuWay.run(false,
                () -> SelfCheck.run(new SelfCheck.Options(model, "auto", 16 * 1024)));
        JsonNode json = JsonMapper.shared().valueToTree(report);
        assertThat(json.path("ok").asBoolean()).as(json.toString()).isTrue();
        assertThat(json.path("device").asString()).isEqualTo("cpu");
        JsonNode checks = json.path("checks");
        assertThat(checks.propertyNames()).containsExactlyInAnyOrder("device", "logits", "speed", "scores", "oom",
                "memory");
        checks.forEach(check -> assertThat(check.path("ok").asBoolean()).as(check.toString()).isTrue());
        assertThat(checks.path("logits").path("max_abs_diff").asDouble()).isLessThanOrEqualTo(SelfCheck.F32_TOLERANCE);
        assertThat(checks.path("logits").path("same_greedy_tokens").asBoolean()).isTrue();
        for (String policy : new String[] {"full", "h2o", "streaming"}) {
            assertThat(checks.path("speed").path(policy).path("decode_tokens_per_second").asDouble()).isPositive();
        }
        assertThat(checks.path("scores").path("on_device_by_default").asBoolean()).as("on a CPU").isFalse();
        assertThat(checks.path("scores").path("device_ms_per_step").asDouble()).isPositive();
        assertThat(checks.path("oom").path("kv_bytes_at_limit").asLong()).isGreaterThan(16 * 1024);
        assertThat(checks.path("oom").path("generation_after").asBoolean()).isTrue();
        assertThat(checks.path("memory").path("total_bytes").asLong()).isPositive();
    }

    @Test
    void everyCheckPassesTheGpuWayOnTheCpu() {
        Path model = TinyModels.llama().writeTo(dir.resolve("llama-gpu-way")).dir();
        JsonNode json = JsonMapper.shared().valueToTree(
                GpuWay.run(true, () -> SelfCheck.run(new SelfCheck.Options(model, "auto", 16 * 1024))));
        assertThat(json.path("ok").asBoolean()).as(json.toString()).isTrue();
        assertThat(json.path("checks").path("scores").path("on_device_by_default").asBoolean()).isTrue();
    }

    @Test
    void aGpuThatIsNotThereFailsClearly() {
        Path model = TinyModels.llama().writeTo(dir.resolve("llama-gpu")).dir();
        assertThatThrownBy(() -> SelfCheck.run(new SelfCheck.Options(model, "gpu", 1 << 20)))
                .hasMessageContaining("GPU");
        assertThatThrownBy(() -> SelfCheck.parse(new String[] {"--frobnicate"})).hasMessageContaining("usage");
    }
}
