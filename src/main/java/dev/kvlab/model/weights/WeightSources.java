package dev.kvlab.model.weights;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the weights of a Hugging Face model folder: one safetensors file or a sharded index. */
public final class WeightSources {

    public static final String SINGLE_FILE = "model.safetensors";
    public static final String SHARD_INDEX = "model.safetensors.index.json";

    private WeightSources() {}

    /**
     * Opens {@code model.safetensors} in {@code modelDir}, or else the shards listed by {@code
     * model.safetensors.index.json} (the order Hugging Face transformers looks in).
     *
     * @throws WeightException when neither file exists, naming both, or when the weights are unreadable
     */
    public static WeightSource open(Path modelDir) {
        Path single = modelDir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return SafetensorsFile.open(single);
        }
        Path index = modelDir.resolve(SHARD_INDEX);
        if (Files.isRegularFile(index)) {
            return ShardedWeights.open(index);
        }
        throw new WeightException("no weights in " + modelDir + ": looked for " + SINGLE_FILE + " and "
                + SHARD_INDEX + " (only safetensors checkpoints are supported)");
    }
}
