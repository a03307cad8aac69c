package dev.kvlab.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvlab.model.gpt2.Gpt2Config;
import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.model.llama.LlamaConfig.Llama3RopeScaling;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.node.ObjectNode;

class ModelConfigsTest {

    @Test
    void readsLlamaWithGroupedQueryAttention(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), ConfigFixtures.tinyLlama().toString());
        LlamaConfig c = (LlamaConfig) ModelConfigs.read(dir);
        assertEquals(Architecture.LLAMA, c.architecture());
        assertEquals(new LlamaConfig(32000, 2048, 5632, 22, 32, 4, 0, 2048, 1e-5, 10000.0, null, false, false), c);
        assertEquals(64, c.headDim());
    }

    @Test
    void defaultsKvHeadsToQueryHeadsAndUsesAnExplicitHeadDim() {
        ObjectNode json = ConfigFixtures.tinyLlama();
        json.remove("num_key_value_heads");
        json.remove("rms_norm_eps");
        json.remove("rope_theta");
        json.put("head_dim", 128);
        LlamaConfig c = (LlamaConfig) ModelConfigs.parse(json.toString());
        assertEquals(32, c.numKvHeads());
        assertEquals(128, c.headDim());
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(10000.0, c.ropeTheta());
    }

    @Test
    void kvHeadsThatDoNotDivideQueryHeadsAreRejected() {
        ObjectNode json = ConfigFixtures.tinyLlama().put("num_key_value_heads", 5);
        assertRejected(json, "num_key_value_heads").hasMessageContaining("must divide num_attention_heads (32)");
    }

    @Test
    void qwen2HasAttentionBiasAndTiedEmbeddings() {
        LlamaConfig c = (LlamaConfig) ModelConfigs.parse(ConfigFixtures.qwen2().toString());
        assertTrue(c.attentionBias());
        assertTrue(c.tieWordEmbeddings());
        assertEquals(2, c.numKvHeads());
        assertEquals(1_000_000.0, c.ropeTheta());
    }

    @Test
    void qwen2WithSlidingWindowOnIsRejected() {
        assertRejected(ConfigFixtures.qwen2().put("use_sliding_window", true), "sliding_window");
    }

    @Test
    void mistralWithAnActiveSlidingWindowIsRejected() {
        assertRejected(ConfigFixtures.mistral(), "sliding_window")
                .hasMessageContaining("sliding_window 4096 is not supported");
    }

    @Test
    void mistralWithoutSlidingWindowIsALlama() {
        LlamaConfig c = (LlamaConfig) ModelConfigs.parse(ConfigFixtures.mistral().putNull("sliding_window").toString());
        assertEquals(8, c.numKvHeads());
        assertFalse(c.attentionBias());
        assertEquals(32768, c.maxPositions());
    }

    @Test
    void acceptsLlama3RopeScaling() {
        ObjectNode json = ConfigFixtures.tinyLlama().put("rope_theta", 500000.0);
        json.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0).put("low_freq_factor", 1.0)
                .put("high_freq_factor", 4.0).put("original_max_position_embeddings", 8192);
        LlamaConfig c = (LlamaConfig) ModelConfigs.parse(json.toString());
        assertEquals(new Llama3RopeScaling(8.0, 1.0, 4.0, 8192), c.ropeScaling());
    }

    @Test
    void defaultRopeTypeMeansNoScaling() {
        ObjectNode json = ConfigFixtures.tinyLlama();
        json.putObject("rope_scaling").put("rope_type", "default");
        assertNull(((LlamaConfig) ModelConfigs.parse(json.toString())).ropeScaling());
    }

    @Test
    void yarnRopeScalingIsRejected() {
        ObjectNode json = ConfigFixtures.qwen2();
        json.putObject("rope_scaling").put("type", "yarn").put("factor", 4.0);
        assertRejected(json, "rope_scaling.type").hasMessage(
                "config.json: rope_scaling.type 'yarn' is not supported (supported: llama3)");
        json.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0);
        assertRejected(json, "rope_scaling.rope_type").hasMessage(
                "config.json: rope_scaling.rope_type 'yarn' is not supported (supported: llama3)");
    }

    @Test
    void llama3RopeScalingWithoutItsFactorsIsRejected() {
        ObjectNode json = ConfigFixtures.tinyLlama();
        json.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0);
        assertRejected(json, "rope_scaling.low_freq_factor").hasMessageContaining("missing");
    }

    @Test
    void readsGpt2() {
        Gpt2Config c = (Gpt2Config) ModelConfigs.parse(ConfigFixtures.gpt2().toString());
        assertEquals(new Gpt2Config(50257, 768, 3072, 12, 12, 1024, 1e-5), c);
        assertEquals(Architecture.GPT2, c.architecture());
        assertTrue(c.tieWordEmbeddings());
    }

    @Test
    void gpt2WithPlainGeluIsRejected() {
        assertRejected(ConfigFixtures.gpt2().put("activation_function", "gelu"), "activation_function")
                .hasMessage("config.json: activation_function 'gelu' is not supported (supported: gelu_new)");
    }

    @Test
    void unknownArchitectureIsNamed() {
        ObjectNode json = ConfigFixtures.tinyLlama();
        json.putArray("architectures").add("Gemma2ForCausalLM");
        assertRejected(json, "architectures").hasMessageContaining("'Gemma2ForCausalLM' is not supported");
    }

    @Test
    void fallsBackToModelTypeWithoutArchitectures() {
        ObjectNode json = ConfigFixtures.gpt2();
        json.remove("architectures");
        assertThat(ModelConfigs.parse(json.toString())).isInstanceOf(Gpt2Config.class);
        json.put("model_type", "bert");
        assertRejected(json, "model_type").hasMessageContaining("'bert'");
    }

    @Test
    void missingFieldIsNamed() {
        ObjectNode json = ConfigFixtures.tinyLlama();
        json.remove("intermediate_size");
        assertRejected(json, "intermediate_size").hasMessage("config.json: intermediate_size is required but missing");
    }

    @Test
    void wrongTypeIsNamed() {
        assertRejected(ConfigFixtures.tinyLlama().put("hidden_size", "2048"), "hidden_size")
                .hasMessageContaining("must be an integer");
        assertRejected(ConfigFixtures.tinyLlama().put("tie_word_embeddings", "yes"), "tie_word_embeddings");
    }

    @Test
    void nonPositiveSizeIsNamed() {
        assertRejected(ConfigFixtures.gpt2().put("n_layer", 0), "n_layer").hasMessageContaining("must be positive");
    }

    @Test
    void invalidJsonIsReported() {
        assertThatThrownBy(() -> ModelConfigs.parse("{\"hidden_size\": 12,"))
                .isInstanceOf(UnsupportedModelException.class)
                .hasMessageContaining("config.json is not valid JSON")
                .satisfies(e -> assertEquals("config.json", ((UnsupportedModelException) e).field()));
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertRejected(ObjectNode json, String field) {
        return assertThatThrownBy(() -> ModelConfigs.parse(json.toString()))
                .isInstanceOf(UnsupportedModelException.class)
                .satisfies(e -> assertEquals(field, ((UnsupportedModelException) e).field()))
                .hasMessageContaining(field);
    }
}
