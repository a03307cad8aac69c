package dev.kvlab.training.model;

import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.model.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * Writes a trained model as a Hugging Face model folder ({@code config.json} for
 * {@code LlamaForCausalLM}, {@code model.safetensors}, {@code generation_config.json},
 * {@code tokenizer.json}), so kvlab, {@code transformers} and any other Llama loader read it as is.
 */
public final class HfModelFiles {
    private static final JsonMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

    private HfModelFiles() {}

    /** Writes all four files into {@code dir} (created if needed). */
    public static void write(Path dir, LlamaParameters parameters, Path tokenizerJson, int bosId, int eosId,
            SafetensorsWriter.Dtype dtype) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), configJson(parameters.config(), bosId, eosId, dtype) + "\n");
        Files.writeString(dir.resolve("generation_config.json"), generationConfigJson(bosId, eosId) + "\n");
        parameters.save(dir.resolve("model.safetensors"), dtype);
        Path target = dir.resolve("tokenizer.json");
        if (!Files.exists(target) || !Files.isSameFile(tokenizerJson, target)) {
            if (Files.exists(target) && Files.mismatch(tokenizerJson, target) != -1) {
                System.err.println("WARNING: replacing " + target + ", which differs from the tokenizer the model was "
                        + "trained with (" + tokenizerJson + ")");
            }
            Files.copy(tokenizerJson, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The {@code config.json} of a tied-embedding Llama without biases. */
    public static String configJson(LlamaConfig c, int bosId, int eosId, SafetensorsWriter.Dtype dtype) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architectures", new String[] {"LlamaForCausalLM"});
        m.put("model_type", "llama");
        m.put("vocab_size", c.vocabSize());
        m.put("hidden_size", c.hiddenSize());
        m.put("intermediate_size", c.intermediateSize());
        m.put("num_hidden_layers", c.numLayers());
        m.put("num_attention_heads", c.numHeads());
        m.put("num_key_value_heads", c.numKvHeads());
        m.put("head_dim", c.headDim());
        m.put("hidden_act", "silu");
        m.put("max_position_embeddings", c.maxPositions());
        m.put("rms_norm_eps", c.rmsNormEps());
        m.put("rope_theta", c.ropeTheta());
        m.put("rope_scaling", null);
        m.put("attention_bias", false);
        m.put("attention_dropout", 0.0);
        m.put("mlp_bias", false);
        m.put("tie_word_embeddings", true);
        m.put("initializer_range", 0.02);
        m.put("bos_token_id", bosId);
        m.put("eos_token_id", eosId);
        m.put("torch_dtype", switch (dtype) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
        });
        m.put("use_cache", true);
        return JSON.writeValueAsString(m);
    }

    public static String generationConfigJson(int bosId, int eosId) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("bos_token_id", bosId);
        m.put("eos_token_id", eosId);
        m.put("do_sample", false);
        return JSON.writeValueAsString(m);
    }

    /** Bytes of a safetensors file of this model (data only), to check the 30 MB budget before training. */
    public static long weightBytes(long parameters, SafetensorsWriter.Dtype dtype) {
        return parameters * (dtype == SafetensorsWriter.Dtype.F32 ? 4 : 2);
    }

    static String describe(LlamaConfig c) {
        return String.format(Locale.ROOT, "vocab %d, hidden %d, %d layers, %d heads (head dim %d), %d kv heads, "
                        + "MLP %d, context %d, rope θ %.0f, tied embeddings",
                c.vocabSize(), c.hiddenSize(), c.numLayers(), c.numHeads(), c.headDim(), c.numKvHeads(),
                c.intermediateSize(), c.maxPositions(), c.ropeTheta());
    }
}
