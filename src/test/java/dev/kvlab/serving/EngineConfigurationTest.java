package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.kvlab.KvlabApplication;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.testing.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** Start-up with a model the engine cannot use stops with a message naming the folder and the field. */
class EngineConfigurationTest {

    @TempDir
    Path tmp;

    private static KvlabProperties properties(Path modelDir) {
        return new KvlabProperties(new KvlabProperties.Model(modelDir.toString(), null), "cpu",
                new KvlabProperties.Prefill(512), new KvlabProperties.Memory(null),
                new KvlabProperties.Serving(1024, 8192, 2, 16), new KvlabProperties.Security(null),
                new KvlabProperties.Cpu(1));
    }

    @Test
    void missingFolderNamesThePath() {
        Path missing = tmp.resolve("no-such-model");
        assertThatThrownBy(() -> new EngineConfiguration().modelFolder(properties(missing)))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(missing.toAbsolutePath().toString());
    }

    @Test
    void unsupportedConfigNamesTheField() throws IOException {
        Path dir = TinyModels.llama().writeTo(tmp.resolve("m")).dir();
        Path config = dir.resolve("config.json");
        Files.writeString(config, Files.readString(config).replaceFirst("\\{", "{\"use_sliding_window\": true, "));
        assertThatThrownBy(() -> new EngineConfiguration().modelFolder(properties(dir)))
                .isInstanceOfSatisfying(ModelLoadException.class,
                        e -> assertThat(e.field()).isEqualTo("sliding_window"))
                .hasMessageContaining(dir.toAbsolutePath().toString())
                .hasMessageContaining("sliding_window");
    }

    @Test
    void failureReportTellsTheOperatorWhatToFix() {
        ModelLoadException e = new ModelLoadException(Path.of("/models/x"), "rope_scaling.rope_type", "yarn", null);
        FailureAnalysis analysis = new ModelLoadFailureAnalyzer().analyze(e);
        assertThat(analysis.getDescription()).contains("/models/x").contains("rope_scaling.rope_type");
        assertThat(analysis.getAction()).contains("kvlab.model.path").contains("rope_scaling.rope_type");
    }

    @Test
    void hubFailureReportPointsAtTheHubSettingsNotTheModelPath() {
        ModelLoadException e = new ModelLoadException(Path.of("data/hub"), "kvlab.model.id", "401 from the Hub", null);
        FailureAnalysis analysis = new ModelLoadFailureAnalyzer().analyze(e);
        assertThat(analysis.getAction()).contains("kvlab.model.id").contains("HF_TOKEN").doesNotStartWith("Point");
    }

    @Test
    void applicationDoesNotStartWithABadModelPath() {
        Path missing = tmp.resolve("absent");
        SpringApplicationBuilder app = new SpringApplicationBuilder(KvlabApplication.class)
                .web(WebApplicationType.NONE)
                .properties("spring.main.banner-mode=off");
        Throwable failure = catchThrowable(() -> app.run("--kvlab.model.path=" + missing));
        while (failure != null && !(failure instanceof ModelLoadException)) {
            failure = failure.getCause();
        }
        assertThat(failure).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(missing.toAbsolutePath().toString());
    }
}
