package dev.kvlab.model.llama;

import dev.kvlab.model.ConfigJson;
import dev.kvlab.model.llama.LlamaConfig.Llama3RopeScaling;

/**
 * Reads the {@code config.json} of the Llama family (Llama, Mistral, Qwen2) into a {@link
 * LlamaConfig}, refusing what kvlab would run wrongly: sliding windows that bite, RoPE scaling other
 * than {@code llama3}, activations other than SiLU, MLP biases.
 */
public final class LlamaConfigs {

    /** The Hugging Face families with Llama's shape, and what sets each apart in {@code config.json}. */
    public enum Variant {
        LLAMA(false, false),
        MISTRAL(false, true),
        QWEN2(true, false);

        private final boolean qkvBias;
        private final boolean windowAlwaysOn;

        Variant(boolean qkvBias, boolean windowAlwaysOn) {
            this.qkvBias = qkvBias;
            this.windowAlwaysOn = windowAlwaysOn;
        }

        /** Qwen2's q/k/v projections carry a bias whatever {@code attention_bias} says. */
        boolean qkvBias() {
            return qkvBias;
        }

        /**
         * Mistral applies {@code sliding_window} whenever it is set; Qwen2 only under {@code
         * use_sliding_window}.
         */
        boolean windowAlwaysOn() {
            return windowAlwaysOn;
        }
    }

    private LlamaConfigs() {}

    public static LlamaConfig parse(ConfigJson json, Variant variant) {
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
        rejectSlidingWindow(json, variant, maxPositions);
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
                variant.qkvBias() || json.bool("attention_bias", false),
                json.bool("tie_word_embeddings", false));
    }

    /** kvlab attends over the whole cache; a window that would actually bite changes the model. */
    private static void rejectSlidingWindow(ConfigJson json, Variant variant, int maxPositions) {
        if (json.bool("use_sliding_window", false)) {
            throw json.invalid("sliding_window", "is not supported (use_sliding_window is true): kvlab runs full attention");
        }
        if (variant.windowAlwaysOn() && json.has("sliding_window")) {
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
}
