package dev.kvlab.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.DataType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.BindException;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.PropertySource;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.util.unit.DataSize;

/** Binding of {@code kvlab.*}: the documented defaults, environment variables, and refusal of bad values. */
class KvlabPropertiesTest {

    private static KvlabProperties bind(PropertySource<?> source) {
        return new Binder(ConfigurationPropertySources.from(source)).bindOrCreate("kvlab", KvlabProperties.class);
    }

    private static KvlabProperties bind(Map<String, Object> properties) {
        return bind(new MapPropertySource("test", properties));
    }

    @Test
    void defaultsAreTheDocumentedOnes() {
        KvlabProperties p = bind(Map.of());
        assertThat(p.model().dir()).isEqualTo(Path.of("models/kvlab-tiny"));
        assertThat(p.model().dataType()).isNull();
        assertThat(p.device()).isEqualTo("auto");
        assertThat(p.prefill().chunk()).isEqualTo(512);
        assertThat(p.memory().limit()).isNull();
        assertThat(p.serving().maxNewTokens()).isEqualTo(1024);
        assertThat(p.serving().maxPromptTokens()).isEqualTo(8192);
        assertThat(p.serving().maxConcurrent(false)).isEqualTo(8);
        assertThat(p.serving().maxConcurrent(true)).isEqualTo(32);
        assertThat(p.serving().maxBatchTokens(8, 512)).isEqualTo(520);
        assertThat(p.serving().maxQueue()).isEqualTo(16);
        assertThat(p.serving().requestTimeout()).isEqualTo(Duration.ofSeconds(300));
        assertThat(p.serving().maxBodySize()).isEqualTo(DataSize.ofMegabytes(1));
        assertThat(p.security().apiKey()).isNull();
        assertThat(p.cpu().decodeThreads()).isEqualTo(1);
    }

    @Test
    void servingLimitsAndApiKeyBindFromTheEnvironment() {
        KvlabProperties p = bind(new SystemEnvironmentPropertySource("systemEnvironment", Map.of(
                "KVLAB_SERVING_REQUESTTIMEOUT", "90s",
                "KVLAB_SERVING_MAXBODYSIZE", "64KB",
                "KVLAB_SECURITY_APIKEY", "secret")));
        assertThat(p.serving().requestTimeout()).isEqualTo(Duration.ofSeconds(90));
        assertThat(p.serving().maxBodySize()).isEqualTo(DataSize.ofKilobytes(64));
        assertThat(p.security().apiKey()).isEqualTo("secret");
        assertThat(bind(Map.of("kvlab.security.api-key", "  ")).security().apiKey()).isNull();
        assertBindFails(Map.of("kvlab.serving.request-timeout", "0s"), "kvlab.serving.request-timeout");
        assertBindFails(Map.of("kvlab.serving.max-body-size", "0"), "kvlab.serving.max-body-size");
    }

    @Test
    void environmentVariablesBindThroughRelaxedNames() {
        KvlabProperties p = bind(new SystemEnvironmentPropertySource("systemEnvironment", Map.of(
                "KVLAB_MODEL_PATH", "/models/smol",
                "KVLAB_MODEL_DTYPE", "f16",
                "KVLAB_DEVICE", "gpu:1",
                "KVLAB_MEMORY_LIMIT", "8GB",
                "KVLAB_SERVING_MAXNEWTOKENS", "99",
                "KVLAB_SERVING_MAXCONCURRENT", "4",
                "KVLAB_PREFILL_CHUNK", "128",
                "KVLAB_CPU_DECODETHREADS", "0")));
        assertThat(p.model().dir()).isEqualTo(Path.of("/models/smol"));
        assertThat(p.model().dataType()).isEqualTo(DataType.FLOAT16);
        assertThat(p.device()).isEqualTo("gpu:1");
        assertThat(p.memory().limit()).isEqualTo(DataSize.ofGigabytes(8));
        assertThat(p.serving().maxNewTokens()).isEqualTo(99);
        assertThat(p.serving().maxConcurrent()).isEqualTo(4);
        assertThat(p.prefill().chunk()).isEqualTo(128);
        assertThat(p.cpu().decodeThreads()).isZero();
    }

    @Test
    void plainMemoryLimitIsBytes() {
        assertThat(bind(Map.of("kvlab.memory.limit", "1048576")).memory().limit().toBytes()).isEqualTo(1 << 20);
    }

    @Test
    void badValuesFailBindingNamingTheProperty() {
        assertBindFails(Map.of("kvlab.serving.max-concurrent", "-1"), "kvlab.serving.max-concurrent");
        assertBindFails(Map.of("kvlab.serving.max-batch-tokens", "-1"), "kvlab.serving.max-batch-tokens");
        assertBindFails(Map.of("kvlab.serving.max-queue", "-1"), "kvlab.serving.max-queue");
        assertBindFails(Map.of("kvlab.prefill.chunk", "0"), "kvlab.prefill.chunk");
        assertBindFails(Map.of("kvlab.cpu.decode-threads", "-1"), "kvlab.cpu.decode-threads");
        assertBindFails(Map.of("kvlab.model.dtype", "bf16"), "kvlab.model.dtype");
        assertBindFails(Map.of("kvlab.model.dtype", "int8"), "kvlab.model.dtype");
        assertBindFails(Map.of("kvlab.memory.limit", "0"), "kvlab.memory.limit");
        assertBindFails(Map.of("kvlab.serving.default-kv-cache", "h2o"), "kvlab.serving.default-kv-cache");
        assertBindFails(Map.of("kvlab.serving.default-kv-cache", "[1]"), "kvlab.serving.default-kv-cache");
    }

    @Test
    void aDefaultKvCacheIsReadAsTheJsonObjectARequestWouldSend() {
        assertThat(bind(Map.of()).serving().defaultKvCacheParams()).isNull();
        assertThat(bind(Map.of("kvlab.serving.default-kv-cache", "{\"policy\": \"h2o\", \"budget\": 64}"))
                .serving().defaultKvCacheParams()).containsEntry("policy", "h2o").containsEntry("budget", 64);
    }

    private static void assertBindFails(Map<String, Object> properties, String property) {
        assertThatThrownBy(() -> bind(properties))
                .isInstanceOf(BindException.class)
                .rootCause().hasMessageContaining(property);
    }
}
