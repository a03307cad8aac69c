package dev.kvlab.testing;

import dev.kvlab.model.ModelConfig;
import java.nio.file.Path;
import java.util.Map;

/**
 * A tiny random model written by {@link TinyModels} in Hugging Face layout, together with the
 * exact values it holds, so that a loader or engine can be checked against {@link
 * ReferenceForward} without trusting any reader.
 *
 * @param dir the model folder ({@code config.json}, safetensors, {@code tokenizer.json}, …)
 * @param config the shape the folder's {@code config.json} describes
 * @param weights every tensor by its file name, row-major f32, exactly the values passed to the
 *     writer; they are generated already rounded to the storage dtype, so they are also exactly
 *     what an f16 or bf16 file decodes to
 */
public record TinyModel(Path dir, ModelConfig config, Map<String, float[]> weights) {

    /** A tensor by name; fails loudly on a name the model does not have. */
    public float[] weight(String name) {
        float[] w = weights.get(name);
        if (w == null) {
            throw new IllegalArgumentException("no tensor " + name + " in " + weights.keySet());
        }
        return w;
    }

    public Path tokenizerJson() {
        return dir.resolve("tokenizer.json");
    }
}
