package dev.kvlab.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.model.weights.WeightSource;
import dev.kvlab.model.weights.WeightSources;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dtype a model loads in when none is configured: bf16 checkpoints are not squeezed into f16 on a GPU. */
class DefaultDtypeTest {

    @TempDir
    Path dir;

    @Test
    void bf16CheckpointsLoadAsF32OnAGpuOthersAsF16AndEverythingAsF32OnTheCpu() {
        Path bf16 = TinyModels.llama().dtype(dev.kvlab.model.weights.SafetensorsWriter.Dtype.BF16).writeTo(dir.resolve("bf16")).dir();
        Path f32 = TinyModels.llama().writeTo(dir.resolve("f32")).dir();
        try (WeightSource b = WeightSources.open(bf16); WeightSource f = WeightSources.open(f32)) {
            assertThat(ModelLoader.defaultDtype(Device.gpu(0), b)).isEqualTo(DataType.FLOAT32);
            assertThat(ModelLoader.defaultDtype(Device.gpu(0), f)).isEqualTo(DataType.FLOAT16);
            assertThat(ModelLoader.defaultDtype(Device.cpu(), b)).isEqualTo(DataType.FLOAT32);
            assertThat(ModelLoader.defaultDtype(Device.cpu(), f)).isEqualTo(DataType.FLOAT32);
        }
    }
}
