package dev.kvlab.serving;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.model.ModelConfig;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.TransformerModel;
import java.nio.file.Path;

/**
 * The answer of {@code GET /model}: what is loaded, where it runs, and what one token costs the KV
 * cache, which is what a client needs to size its prompts and budgets.
 *
 * @param model the model folder's name (not its full path)
 * @param architecture the Hugging Face architecture, e.g. {@code LlamaForCausalLM}
 * @param dtype compute dtype of weights and cache, e.g. {@code float32}
 * @param device {@code cpu} or {@code gpu:N}
 */
public record ModelInfo(
        @JsonProperty("model") String model,
        @JsonProperty("architecture") String architecture,
        @JsonProperty("parameters") long parameters,
        @JsonProperty("dtype") String dtype,
        @JsonProperty("device") String device,
        @JsonProperty("layers") int layers,
        @JsonProperty("heads") int heads,
        @JsonProperty("kv_heads") int kvHeads,
        @JsonProperty("head_dim") int headDim,
        @JsonProperty("vocab_size") int vocabSize,
        @JsonProperty("max_positions") int maxPositions,
        @JsonProperty("kv_bytes_per_token") long kvBytesPerToken) {

    /** The model folder's name, e.g. {@code kvlab-tiny}: what clients call the model, never its path. */
    public static String name(Path dir) {
        Path name = dir.toAbsolutePath().normalize().getFileName();
        return name == null ? "kvlab" : name.toString();
    }

    static ModelInfo of(ModelFolder folder, TransformerModel m) {
        ModelConfig c = m.config();
        return new ModelInfo(name(folder.dir()), folder.architectureName(),
                m.parameterCount(), m.dtype().toString(), DeviceMemoryProbe.deviceName(m.device()), c.numLayers(),
                c.numHeads(), c.numKvHeads(), c.headDim(), c.vocabSize(), c.maxPositions(), m.kvSpec().bytesPerToken());
    }
}
