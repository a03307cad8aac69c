package dev.kvlab.model;

import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.node.ObjectNode;

class ModelFolderTest {

    @TempDir
    Path dir;

    @Test
    void readsEosIdListFromGenerationConfig() throws IOException {
        write(ConfigFixtures.tinyLlama());
        Files.writeString(dir.resolve("generation_config.json"),
                "{\"bos_token_id\": 128000, \"eos_token_id\": [128001, 128008, 128009]}");
        ModelFolder folder = ModelFolder.open(dir);
        assertArrayEquals(new int[] {128001, 128008, 128009}, folder.eosTokenIds());
        assertEquals(128000, folder.bosTokenId());
        assertTrue(folder.isEos(128008));
        assertFalse(folder.isEos(2));
        assertEquals(dir.resolve("tokenizer.json"), folder.tokenizerFile());
    }

    @Test
    void readsASingleEosIdFromGenerationConfig() throws IOException {
        write(ConfigFixtures.gpt2());
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": 50256}");
        ModelFolder folder = ModelFolder.open(dir);
        assertArrayEquals(new int[] {50256}, folder.eosTokenIds());
        assertEquals(50256, folder.bosTokenId(), "bos falls back to config.json");
    }

    @Test
    void fallsBackToConfigJsonAndToNothing() throws IOException {
        write(ConfigFixtures.tinyLlama());
        ModelFolder folder = ModelFolder.open(dir);
        assertArrayEquals(new int[] {2}, folder.eosTokenIds());
        assertEquals(1, folder.bosTokenId());
        assertEquals(22, folder.config().numLayers());

        ObjectNode noIds = ConfigFixtures.tinyLlama();
        noIds.remove("eos_token_id");
        noIds.remove("bos_token_id");
        write(noIds);
        ModelFolder bare = ModelFolder.open(dir);
        assertArrayEquals(new int[0], bare.eosTokenIds());
        assertNull(bare.bosTokenId());
    }

    @Test
    void promptsStartWithTheBosUnlessTheArchitectureOrTheTokenizerConfigSaysOtherwise() throws IOException {
        write(ConfigFixtures.tinyLlama()); // no tokenizer_config.json, as the shipped model
        assertEquals(1, ModelFolder.open(dir).promptBosTokenId());

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"add_bos_token\": true, \"bos_token\": \"<s>\"}");
        assertEquals(1, ModelFolder.open(dir).promptBosTokenId(), "Llama and Mistral: add_bos_token true");

        ObjectNode qwen2 = ConfigFixtures.qwen2();
        qwen2.put("bos_token_id", 151643); // as Qwen2's config.json names it
        write(qwen2);
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": null, \"eos_token\": \"<|im_end|>\"}");
        ModelFolder qwen = ModelFolder.open(dir);
        assertNull(qwen.promptBosTokenId(), "Qwen2's tokenizer adds no bos");
        assertEquals("Qwen2ForCausalLM", qwen.architectureName());
        assertEquals(151643, qwen.bosTokenId());

        write(ConfigFixtures.tinyLlama());
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"add_bos_token\": false, \"bos_token\": \"<s>\"}");
        assertNull(ModelFolder.open(dir).promptBosTokenId());

        Files.delete(dir.resolve("tokenizer_config.json"));
        write(ConfigFixtures.gpt2());
        assertNull(ModelFolder.open(dir).promptBosTokenId(), "GPT-2 is not trained with a bos before documents");
    }

    @Test
    void malformedEosIdIsNamed() throws IOException {
        write(ConfigFixtures.tinyLlama());
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": \"</s>\"}");
        assertThatThrownBy(() -> ModelFolder.open(dir))
                .isInstanceOf(UnsupportedModelException.class)
                .hasMessageStartingWith("generation_config.json: eos_token_id");
    }

    @Test
    void missingTokenizerIsNamedWithItsPath() throws IOException {
        Files.writeString(dir.resolve("config.json"), ConfigFixtures.gpt2().toString());
        assertThatThrownBy(() -> ModelFolder.open(dir))
                .isInstanceOf(UnsupportedModelException.class)
                .hasMessageContaining(dir.resolve("tokenizer.json").toAbsolutePath().toString())
                .satisfies(e -> assertEquals("tokenizer.json", ((UnsupportedModelException) e).field()));
    }

    @Test
    void missingConfigIsNamed() throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), "{}");
        assertThatThrownBy(() -> ModelFolder.open(dir))
                .isInstanceOf(UnsupportedModelException.class)
                .hasMessageContaining("has no config.json");
    }

    @Test
    void missingFolderIsNamed() {
        Path absent = dir.resolve("no-such-model");
        assertThatThrownBy(() -> ModelFolder.open(absent))
                .isInstanceOf(UnsupportedModelException.class)
                .hasMessageContaining(absent.toString())
                .hasMessageContaining("does not exist");
    }

    private void write(ObjectNode config) throws IOException {
        Files.writeString(dir.resolve("config.json"), config.toString());
        Files.writeString(dir.resolve("tokenizer.json"), "{}");
    }
}
