package dev.kvlab.model.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kvlab.model.weights.SafetensorsWriter.Dtype;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightSourcesTest {

    private static final String INDEX = """
            {"metadata": {"total_size": 40},
             "weight_map": {"embed.weight": "model-00001-of-00002.safetensors",
                            "norm.weight": "model-00001-of-00002.safetensors",
                            "lm_head.weight": "model-00002-of-00002.safetensors"}}
            """;

    @TempDir
    Path dir;

    @Test
    void opensASingleFile() {
        new SafetensorsWriter().put("w", new float[] {1, 2}, 2).write(dir.resolve("model.safetensors"), Dtype.F16);
        try (WeightSource weights = WeightSources.open(dir)) {
            assertThat(weights).isInstanceOf(SafetensorsFile.class);
            assertArrayEquals(new float[] {1, 2}, weights.readFloats("w", 2));
        }
    }

    @Test
    void opensAShardedCheckpointThroughItsIndex() throws IOException {
        writeShards();
        Files.writeString(dir.resolve("model.safetensors.index.json"), INDEX);
        try (WeightSource weights = WeightSources.open(dir)) {
            assertThat(weights).isInstanceOf(ShardedWeights.class);
            assertThat(weights.names()).containsExactlyInAnyOrder("embed.weight", "norm.weight", "lm_head.weight");
            assertArrayEquals(new long[] {3, 2}, weights.shape("lm_head.weight"));
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, weights.readFloats("embed.weight", 3, 2));
            assertArrayEquals(new float[] {1, 1}, weights.readFloats("norm.weight", 2));
            assertArrayEquals(new float[] {6, 5, 4, 3, 2, 1}, weights.readFloats("lm_head.weight", 3, 2));
            assertThat(((ShardedWeights) weights).shardFiles()).hasSize(2);
            assertThatThrownBy(() -> weights.readFloats("missing.weight"))
                    .isInstanceOf(WeightException.class)
                    .hasMessageContaining("tensor 'missing.weight' not found in");
        }
    }

    @Test
    void missingShardIsNamed() throws IOException {
        new SafetensorsWriter().put("embed.weight", new float[6], 3, 2).put("norm.weight", new float[2], 2)
                .write(dir.resolve("model-00001-of-00002.safetensors"), Dtype.F32);
        Files.writeString(dir.resolve("model.safetensors.index.json"), INDEX);
        assertThatThrownBy(() -> WeightSources.open(dir))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("model-00002-of-00002.safetensors")
                .hasMessageContaining("does not exist");
    }

    @Test
    void indexThatDisagreesWithItsShardIsRejected() throws IOException {
        writeShards();
        Files.writeString(dir.resolve("model.safetensors.index.json"),
                INDEX.replace("\"norm.weight\": \"model-00001", "\"norm.weight\": \"model-00002"));
        assertThatThrownBy(() -> WeightSources.open(dir))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("'norm.weight'")
                .hasMessageContaining("does not hold it");
    }

    @Test
    void folderWithoutWeightsSaysWhatWasLookedFor() {
        assertThatThrownBy(() -> WeightSources.open(dir))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("model.safetensors and model.safetensors.index.json");
    }

    private void writeShards() {
        new SafetensorsWriter().put("embed.weight", new float[] {1, 2, 3, 4, 5, 6}, 3, 2)
                .put("norm.weight", new float[] {1, 1}, 2)
                .write(dir.resolve("model-00001-of-00002.safetensors"), Dtype.BF16);
        new SafetensorsWriter().put("lm_head.weight", new float[] {6, 5, 4, 3, 2, 1}, 3, 2)
                .write(dir.resolve("model-00002-of-00002.safetensors"), Dtype.F32);
    }
}
