package dev.kvlab.testing;

import dev.kvlab.model.ModelConfig;
import dev.kvlab.model.gpt2.Gpt2Config;
import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.model.weights.SafetensorsWriter.Dtype;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code config.json} and {@code generation_config.json} as Hugging Face transformers writes them
 * for Llama 3.1, Qwen2 and GPT-2, keys and all (including the ones kvlab ignores), so a loader is
 * tested on what it will meet.
 */
final class HfConfigs {
    private HfConfigs() {}

    static Map<String, Object> config(ModelConfig config, Dtype dtype, boolean gpt2TransformerPrefix) {
        Map<String, Object> c = new LinkedHashMap<>();
        if (config instanceof LlamaConfig l) {
            boolean qwen2 = l.attentionBias(); // Qwen2 configs have no attention_bias key: the architecture implies it
            c.put("architectures", List.of(qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"));
            c.put("attention_dropout", 0.0);
            if (!qwen2) {
                c.put("attention_bias", false);
            }
            c.put("bos_token_id", TinyModels.BOS_ID);
            c.put("eos_token_id", TinyModels.EOS_ID);
            if (l.headDimOverride() > 0) {
                c.put("head_dim", l.headDimOverride());
            }
            c.put("hidden_act", "silu");
            c.put("hidden_size", l.hiddenSize());
            c.put("initializer_range", 0.02);
            c.put("intermediate_size", l.intermediateSize());
            c.put("max_position_embeddings", l.maxPositions());
            if (qwen2) {
                c.put("max_window_layers", l.numLayers());
            } else {
                c.put("mlp_bias", false);
            }
            c.put("model_type", qwen2 ? "qwen2" : "llama");
            c.put("num_attention_heads", l.numHeads());
            c.put("num_hidden_layers", l.numLayers());
            c.put("num_key_value_heads", l.numKvHeads());
            c.put("rms_norm_eps", l.rmsNormEps());
            c.put("rope_scaling", ropeScaling(l.ropeScaling()));
            c.put("rope_theta", l.ropeTheta());
            if (qwen2) {
                c.put("sliding_window", l.maxPositions());
            }
            c.put("tie_word_embeddings", l.tieWordEmbeddings());
            c.put("torch_dtype", torchDtype(dtype));
            c.put("transformers_version", "4.46.0");
            c.put("use_cache", true);
            if (qwen2) {
                c.put("use_sliding_window", false);
            }
            c.put("vocab_size", l.vocabSize());
            return c;
        }
        Gpt2Config g = (Gpt2Config) config;
        c.put("activation_function", "gelu_new");
        c.put("architectures", List.of("GPT2LMHeadModel"));
        c.put("attn_pdrop", 0.1);
        c.put("bos_token_id", TinyModels.BOS_ID);
        c.put("embd_pdrop", 0.1);
        c.put("eos_token_id", TinyModels.EOS_ID);
        c.put("initializer_range", 0.02);
        c.put("layer_norm_epsilon", g.layerNormEps());
        c.put("model_type", "gpt2");
        c.put("n_ctx", g.maxPositions());
        c.put("n_embd", g.hiddenSize());
        c.put("n_head", g.numHeads());
        c.put("n_inner", g.innerSize() == 4 * g.hiddenSize() ? null : g.innerSize());
        c.put("n_layer", g.numLayers());
        c.put("n_positions", g.maxPositions());
        c.put("reorder_and_upcast_attn", false);
        c.put("resid_pdrop", 0.1);
        c.put("scale_attn_by_inverse_layer_idx", false);
        c.put("scale_attn_weights", true);
        c.put("torch_dtype", torchDtype(dtype));
        c.put("transformers_version", gpt2TransformerPrefix ? "4.46.0" : "4.26.0.dev0");
        c.put("use_cache", true);
        c.put("vocab_size", g.vocabSize());
        return c;
    }

    /** Llama 3 writes a list of eos ids (as Llama 3.1 does), GPT-2 and Qwen2 a single id. */
    static Map<String, Object> generationConfig(ModelConfig config) {
        Map<String, Object> c = new LinkedHashMap<>();
        boolean eosList = config instanceof LlamaConfig l && !l.attentionBias();
        c.put("bos_token_id", TinyModels.BOS_ID);
        c.put("eos_token_id", eosList ? List.of(TinyModels.EOS_ID) : TinyModels.EOS_ID);
        c.put("transformers_version", "4.46.0");
        return c;
    }

    private static Map<String, Object> ropeScaling(LlamaConfig.Llama3RopeScaling s) {
        if (s == null) {
            return null;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("factor", s.factor());
        m.put("high_freq_factor", s.highFreqFactor());
        m.put("low_freq_factor", s.lowFreqFactor());
        m.put("original_max_position_embeddings", s.originalMaxPositions());
        m.put("rope_type", "llama3");
        return m;
    }

    private static String torchDtype(Dtype dtype) {
        return switch (dtype) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
        };
    }
}
