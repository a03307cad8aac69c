package dev.kvlab.model.gpt2;

import dev.kvlab.model.ConfigJson;

/**
 * Reads a GPT-2 {@code config.json} into a {@link Gpt2Config}, refusing the variants kvlab would
 * run wrongly: activations other than {@code gelu_new}, unscaled or layer-scaled attention.
 */
public final class Gpt2Configs {

    private Gpt2Configs() {}

    public static Gpt2Config parse(ConfigJson json) {
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
