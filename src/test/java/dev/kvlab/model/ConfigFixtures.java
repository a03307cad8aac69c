package dev.kvlab.model;

import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/** Real-world config.json contents (trimmed) to edit in tests. */
final class ConfigFixtures {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private ConfigFixtures() {}

    /** TinyLlama-1.1B: grouped-query attention, 32 query heads over 4 KV heads. */
    static ObjectNode tinyLlama() {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("vocab_size", 32000);
        c.put("hidden_size", 2048);
        c.put("intermediate_size", 5632);
        c.put("num_hidden_layers", 22);
        c.put("num_attention_heads", 32);
        c.put("num_key_value_heads", 4);
        c.put("max_position_embeddings", 2048);
        c.put("rms_norm_eps", 1e-5);
        c.put("hidden_act", "silu");
        c.putNull("rope_scaling");
        c.put("rope_theta", 10000.0);
        c.put("tie_word_embeddings", false);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        return c;
    }

    /** Qwen2.5-0.5B: q/k/v bias, tied embeddings, sliding window configured but off. */
    static ObjectNode qwen2() {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add("Qwen2ForCausalLM");
        c.put("model_type", "qwen2");
        c.put("vocab_size", 151936);
        c.put("hidden_size", 896);
        c.put("intermediate_size", 4864);
        c.put("num_hidden_layers", 24);
        c.put("num_attention_heads", 14);
        c.put("num_key_value_heads", 2);
        c.put("max_position_embeddings", 32768);
        c.put("rms_norm_eps", 1e-6);
        c.put("rope_theta", 1000000.0);
        c.put("sliding_window", 32768);
        c.put("max_window_layers", 21);
        c.put("use_sliding_window", false);
        c.put("tie_word_embeddings", true);
        return c;
    }

    /** Mistral-7B-v0.1: a 4096-token sliding window inside a 32k context. */
    static ObjectNode mistral() {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add("MistralForCausalLM");
        c.put("model_type", "mistral");
        c.put("vocab_size", 32000);
        c.put("hidden_size", 4096);
        c.put("intermediate_size", 14336);
        c.put("num_hidden_layers", 32);
        c.put("num_attention_heads", 32);
        c.put("num_key_value_heads", 8);
        c.put("max_position_embeddings", 32768);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("sliding_window", 4096);
        return c;
    }

    /** The original gpt2 (124M) config.json. */
    static ObjectNode gpt2() {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add("GPT2LMHeadModel");
        c.put("model_type", "gpt2");
        c.put("activation_function", "gelu_new");
        c.put("vocab_size", 50257);
        c.put("n_embd", 768);
        c.putNull("n_inner");
        c.put("n_layer", 12);
        c.put("n_head", 12);
        c.put("n_positions", 1024);
        c.put("n_ctx", 1024);
        c.put("layer_norm_epsilon", 1e-5);
        c.put("bos_token_id", 50256);
        c.put("eos_token_id", 50256);
        return c;
    }
}
