package dev.kvlab.model;

import dev.kvlab.model.LlamaConfig.Llama3RopeScaling;
import java.nio.file.Path;
import java.util.Map;
import tools.jackson.databind.JsonNode;

/**
 * Reads a Hugging Face {@code config.json} into a {@link ModelConfig}, refusing anything kvlab would
 * run wrongly (sliding windows, unknown RoPE scaling, other activations) rather than producing
 * garbage. Every refusal is an {@link UnsupportedModelException} naming the field.
 */
public final class ModelConfigs {

    public static final String CONFIG_FILE = "config.json";

    private enum Family { LLAMA, MISTRAL, QWEN2, GPT2 }

    private static final Map<String, Family> ARCHITECTURES = Map.of(
            "LlamaForCausalLM", Family.LLAMA,
            "MistralForCausalLM", Family.MISTRAL,
            "Qwen2ForCausalLM", Family.QWEN2,
            "GPT2LMHeadModel", Family.GPT2);
    private static final String SUPPORTED_ARCHITECTURES =
            "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel";
    private static final Map<String, Family> MODEL_TYPES = Map.of(
            "llama", Family.LLAMA, "mistral", Family.MISTRAL, "qwen2", Family.QWEN2, "gpt2", Family.GPT2);

    private ModelConfigs() {}

    /** Reads {@code modelDir/config.json}. */
    public static ModelConfig read(Path modelDir) {
        return parse(ConfigJson.read(modelDir.resolve(CONFIG_FILE)));
    }

    /** Parses the text of a {@code config.json}. */
    public static ModelConfig parse(String configJson) {
        return parse(ConfigJson.parse(CONFIG_FILE, configJson));
    }

    static ModelConfig parse(ConfigJson json) {
        Family family = family(json);
        return family == Family.GPT2 ? gpt2(json) : llama(json, family);
    }

    /** {@code architectures[0]}, or {@code model_type} when a config has no architectures. */
    private static Family family(ConfigJson json) {
        JsonNode architectures = json.node("architectures");
        if (architectures != null && !(architectures.isArray() && architectures.isEmpty())) {
            JsonNode first = architectures.isArray() ? architectures.get(0) : architectures;
            Family family = first.isString() ? ARCHITECTURES.get(first.stringValue()) : null;
            if (family == null) {
                throw json.unsupported("architectures", first.isString() ? first.stringValue() : first,
                        SUPPORTED_ARCHITECTURES);
            }
            return family;
        }
        String modelType = json.string("model_type", null);
        if (modelType == null) {
            throw json.invalid("architectures", "is required but missing (and there is no model_type either)");
        }
        Family family = MODEL_TYPES.get(modelType);
        if (family == null) {
            throw json.unsupported("model_type", modelType, "llama, mistral, qwen2, gpt2");
        }
        return family;
    }

    private static LlamaConfig llama(ConfigJson json, Family family) {
        int hidden = json.positiveInt("hidden_size");
        int heads = json.positiveInt("num_attention_heads");
        int kvHeads = json.positiveInt("num_key_value_heads", heads);
        if (heads % kvHeads != 0) {
            throw json.invalid("num_key_value_heads",
                    "(" + kvHeads + ") must divide num_attention_heads (" + heads + ")");
        }
        int headDim = json.positiveInt("head_dim", 0);
        if (headDim == 0 && hidden % heads != 0) {
            throw json.invalid("hidden_size",
                    "(" + hidden + ") must be divisible by num_attention_heads (" + heads + ") when head_dim is absent");
        }
        int maxPositions = json.positiveInt("max_position_embeddings");
        String activation = json.string("hidden_act", "silu");
        if (!activation.equals("silu") && !activation.equals("swish")) {
            throw json.unsupported("hidden_act", activation, "silu");
        }
        if (json.bool("mlp_bias", false)) {
            throw json.unsupported("mlp_bias", true, "false");
        }
        rejectSlidingWindow(json, family, maxPositions);
        return new LlamaConfig(
                json.positiveInt("vocab_size"),
                hidden,
                json.positiveInt("intermediate_size"),
                json.positiveInt("num_hidden_layers"),
                heads,
                kvHeads,
                headDim,
                maxPositions,
                json.positiveDouble("rms_norm_eps", 1e-6),
                json.positiveDouble("rope_theta", 10000.0),
                ropeScaling(json),
                family == Family.QWEN2 || json.bool("attention_bias", false),
                json.bool("tie_word_embeddings", false));
    }

    /** kvlab attends over the whole cache; a window that would actually bite changes the model. */
    private static void rejectSlidingWindow(ConfigJson json, Family family, int maxPositions) {
        if (json.bool("use_sliding_window", false)) {
            throw json.invalid("sliding_window", "is not supported (use_sliding_window is true): kvlab runs full attention");
        }
        if (family == Family.MISTRAL && json.has("sliding_window")) {
            int window = json.positiveInt("sliding_window");
            if (window < maxPositions) {
                throw json.invalid("sliding_window", window + " is not supported: kvlab runs full attention, so it "
                        + "must be null or at least max_position_embeddings (" + maxPositions + ")");
            }
        }
    }

    private static Llama3RopeScaling ropeScaling(ConfigJson json) {
        ConfigJson scaling = json.object("rope_scaling");
        if (scaling == null) {
            return null;
        }
        String typeField = scaling.has("rope_type") ? "rope_type" : "type";
        String type = scaling.string(typeField, null);
        if (type == null) {
            throw scaling.invalid("rope_type", "is required but missing");
        }
        if (type.equals("default")) {
            return null;
        }
        if (!type.equals("llama3")) {
            throw scaling.unsupported(typeField, type, "llama3");
        }
        double low = scaling.positiveDouble("low_freq_factor");
        double high = scaling.positiveDouble("high_freq_factor");
        if (high <= low) {
            throw scaling.invalid("high_freq_factor", "(" + high + ") must be greater than low_freq_factor (" + low + ")");
        }
        return new Llama3RopeScaling(scaling.positiveDouble("factor"), low, high,
                scaling.positiveInt("original_max_position_embeddings"));
    }

    private static Gpt2Config gpt2(ConfigJson json) {
        int hidden = json.positiveInt("n_embd");
        int heads = json.positiveInt("n_head");
        if (hidden % heads != 0) {
            throw json.invalid("n_embd", "(" + hidden + ") must be divisible by n_head (" + heads + ")");
        }
        String activation = json.string("activation_function", "gelu_new");
        if (!activation.equals("gelu_new") && !activation.equals("gelu_pytorch_tanh")) {
            throw json.unsupported("activation_function", activation, "gelu_new");
        }
        if (!json.bool("scale_attn_weights", true)) {
            throw json.unsupported("scale_attn_weights", false, "true");
        }
        if (json.bool("scale_attn_by_inverse_layer_idx", false)) {
            throw json.unsupported("scale_attn_by_inverse_layer_idx", true, "false");
        }
        return new Gpt2Config(
                json.positiveInt("vocab_size"),
                hidden,
                json.positiveInt("n_inner", 4 * hidden),
                json.positiveInt("n_layer"),
                heads,
                json.positiveInt("n_positions"),
                json.positiveDouble("layer_norm_epsilon", 1e-5));
    }
}
