package dev.kvlab.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.model.weights.HalfFloats;
import dev.kvlab.model.weights.SafetensorsWriter.Dtype;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

class TinyModelsTest {
    private static final ObjectMapper JSON = JsonMapper.builder().build();

    @TempDir Path dir;

    @Test
    void fixtureTokenizerLoadsInDjlAndRoundTripsUtf8() throws IOException {
        TinyModel m = TinyModels.llama().writeTo(dir);
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(m.tokenizerJson(), Map.of("addSpecialTokens", "false"))) {
            long[] ids = tokenizer.encode("the cat and the hat").getIds();
            // "the" "Ġcat" "Ġand" "Ġthe" "Ġhat", merged by rank: at before Ġc, Ġa before nd, no Ġh merge
            assertEquals(List.of(116L, id("he"), id("Ġc"), id("at"), id("Ġand"), id("Ġthe"), 32L, 104L, id("at")), box(ids));
            for (String text : List.of("the cat and the hat", "Grüße, 世界! 👋🏽 naïve\n\ttabs", "  leading spaces")) {
                long[] encoded = tokenizer.encode(text).getIds();
                assertEquals(text, tokenizer.decode(encoded), text);
                assertTrue(Arrays.stream(encoded).allMatch(i -> i >= 0 && i < TinyModels.VOCAB_SIZE));
            }
            assertArrayEquals(new long[] {0xF0, 0x9F, 0x91, 0x8B}, tokenizer.encode("👋").getIds()); // id == byte
            assertArrayEquals(new long[] {TinyModels.BOS_ID, 104, 105, TinyModels.EOS_ID},
                    tokenizer.encode("<|bos|>hi<|eos|>").getIds());
        }
        assertEquals(279, TinyModels.VOCAB_SIZE);
        assertEquals(277, TinyModels.BOS_ID);
        assertEquals(278, TinyModels.EOS_ID);
    }

    @ParameterizedTest
    @EnumSource(Dtype.class)
    void safetensorsHoldExactlyTheReturnedWeightsInHfShapes(Dtype dtype) throws IOException {
        TinyModel m = TinyModels.llama().kvHeads(2).dtype(dtype).writeTo(dir);
        Map<String, Stored> stored = readModel(dir);
        assertEquals(m.weights().keySet(), stored.keySet());
        for (var e : stored.entrySet()) {
            assertEquals(dtype.name(), e.getValue().dtype());
            assertArrayEquals(m.weights().get(e.getKey()), e.getValue().values(), 0f, e.getKey());
        }
        assertArrayEquals(new long[] {64, 64}, stored.get("model.layers.1.self_attn.q_proj.weight").shape());
        assertArrayEquals(new long[] {32, 64}, stored.get("model.layers.1.self_attn.k_proj.weight").shape()); // 2 kv heads × 16
        assertArrayEquals(new long[] {64, 64}, stored.get("model.layers.1.self_attn.o_proj.weight").shape());
        assertArrayEquals(new long[] {128, 64}, stored.get("model.layers.0.mlp.gate_proj.weight").shape());
        assertArrayEquals(new long[] {64, 128}, stored.get("model.layers.0.mlp.down_proj.weight").shape());
        assertArrayEquals(new long[] {279, 64}, stored.get("lm_head.weight").shape());
        assertEquals(3 + 2 * 9, stored.size()); // embed, final norm, lm_head + 9 per layer
        float[] norm = m.weight("model.norm.weight");
        double mean = 0;
        for (float v : norm) {
            mean += v / norm.length;
        }
        assertEquals(1.0, mean, 0.1); // norm weights around 1, not around 0
    }

    @Test
    void gpt2UsesConv1dInOutLayoutAndNoLmHead() throws IOException {
        TinyModel m = TinyModels.gpt2().writeTo(dir);
        Map<String, Stored> stored = readModel(dir);
        assertArrayEquals(new long[] {64, 192}, stored.get("h.0.attn.c_attn.weight").shape());
        assertArrayEquals(new long[] {192}, stored.get("h.0.attn.c_attn.bias").shape());
        assertArrayEquals(new long[] {64, 256}, stored.get("h.1.mlp.c_fc.weight").shape());
        assertArrayEquals(new long[] {256, 64}, stored.get("h.1.mlp.c_proj.weight").shape());
        assertArrayEquals(new long[] {128, 64}, stored.get("wpe.weight").shape());
        assertEquals(4 + 2 * 12, stored.size());
        assertFalse(stored.keySet().stream().anyMatch(n -> n.startsWith("lm_head") || n.matches("h\\.\\d+\\.attn\\.(masked_)?bias")));
        JsonNode config = json(dir.resolve("config.json"));
        assertEquals("gpt2", config.path("model_type").asString());
        assertEquals("GPT2LMHeadModel", config.path("architectures").get(0).asString());
        assertEquals(64, config.path("n_embd").asInt());
        assertEquals(128, config.path("n_positions").asInt());
        assertTrue(config.path("n_inner").isNull());
        assertEquals("gelu_new", config.path("activation_function").asString());
        assertEquals(TinyModels.EOS_ID, json(dir.resolve("generation_config.json")).path("eos_token_id").asInt());
        assertEquals(m.config().vocabSize(), config.path("vocab_size").asInt());
    }

    @Test
    void shardedModelHasTwoShardsAndAnIndexCoveringEveryTensor() throws IOException {
        TinyModel m = TinyModels.llama().sharded(true).dtype(Dtype.BF16).writeTo(dir);
        assertFalse(Files.exists(dir.resolve("model.safetensors")));
        JsonNode index = json(dir.resolve("model.safetensors.index.json"));
        Set<String> files = new HashSet<>();
        long bytes = 0;
        for (String name : m.weights().keySet()) {
            String file = index.path("weight_map").path(name).asString();
            files.add(file);
            assertTrue(readFile(dir.resolve(file)).containsKey(name), name + " in " + file);
            bytes += 2L * m.weight(name).length;
        }
        assertEquals(Set.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"), files);
        assertEquals(bytes, index.path("metadata").path("total_size").asLong());
        assertEquals(m.weights().keySet(), readModel(dir).keySet());
    }

    @Test
    void configJsonUsesHfKeysForLlamaAndQwen2() throws IOException {
        TinyModels.llama().ropeScaling(TinyModels.llama3Scaling()).tieWordEmbeddings(true).dtype(Dtype.F16).writeTo(dir.resolve("l"));
        JsonNode llama = json(dir.resolve("l/config.json"));
        assertEquals("llama", llama.path("model_type").asString());
        assertEquals("LlamaForCausalLM", llama.path("architectures").get(0).asString());
        assertEquals(64, llama.path("hidden_size").asInt());
        assertEquals(128, llama.path("intermediate_size").asInt());
        assertEquals(2, llama.path("num_hidden_layers").asInt());
        assertEquals(4, llama.path("num_attention_heads").asInt());
        assertEquals(2, llama.path("num_key_value_heads").asInt());
        assertEquals(256, llama.path("max_position_embeddings").asInt());
        assertEquals(10000.0, llama.path("rope_theta").asDouble());
        assertEquals("llama3", llama.path("rope_scaling").path("rope_type").asString());
        assertEquals(8.0, llama.path("rope_scaling").path("factor").asDouble());
        assertEquals(64, llama.path("rope_scaling").path("original_max_position_embeddings").asInt());
        assertTrue(llama.path("tie_word_embeddings").asBoolean());
        assertEquals("float16", llama.path("torch_dtype").asString());
        assertEquals(TinyModels.EOS_ID, json(dir.resolve("l/generation_config.json")).path("eos_token_id").get(0).asInt());
        assertFalse(readModel(dir.resolve("l")).containsKey("lm_head.weight"));

        TinyModel qwen = TinyModels.llama().attentionBias(true).vocabPadding(5).writeTo(dir.resolve("q"));
        JsonNode config = json(dir.resolve("q/config.json"));
        assertEquals("Qwen2ForCausalLM", config.path("architectures").get(0).asString());
        assertEquals("qwen2", config.path("model_type").asString());
        assertTrue(config.path("rope_scaling").isNull());
        assertEquals(284, config.path("vocab_size").asInt());
        assertArrayEquals(new long[] {32}, readModel(dir.resolve("q")).get("model.layers.0.self_attn.v_proj.bias").shape());
        assertTrue(((LlamaConfig) qwen.config()).attentionBias());
    }

    @Test
    void sameSeedWritesIdenticalFilesAndAnotherSeedDoesNot() throws IOException {
        TinyModels.gpt2().seed(3).writeTo(dir.resolve("a"));
        TinyModels.gpt2().seed(3).writeTo(dir.resolve("b"));
        TinyModels.gpt2().seed(4).writeTo(dir.resolve("c"));
        byte[] a = Files.readAllBytes(dir.resolve("a/model.safetensors"));
        assertArrayEquals(a, Files.readAllBytes(dir.resolve("b/model.safetensors")));
        assertFalse(Arrays.equals(a, Files.readAllBytes(dir.resolve("c/model.safetensors"))));
    }

    /** A tensor as a minimal, independent safetensors reader sees it. */
    record Stored(String dtype, long[] shape, float[] values) {}

    static Map<String, Stored> readModel(Path modelDir) throws IOException {
        Path index = modelDir.resolve("model.safetensors.index.json");
        if (!Files.exists(index)) {
            return readFile(modelDir.resolve("model.safetensors"));
        }
        Map<String, Stored> all = new HashMap<>();
        for (JsonNode file : Set.copyOf(json(index).path("weight_map").valueStream().toList())) {
            all.putAll(readFile(modelDir.resolve(file.asString())));
        }
        return all;
    }

    static Map<String, Stored> readFile(Path file) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = Math.toIntExact(buf.getLong(0));
        assertEquals(0, headerLength % 8, "data must start 8-byte aligned");
        JsonNode header = JSON.readTree(new String(buf.array(), 8, headerLength, StandardCharsets.UTF_8));
        Map<String, Stored> tensors = new HashMap<>();
        long dataBytes = 0;
        for (String name : header.propertyNames()) {
            if (name.equals("__metadata__")) {
                continue;
            }
            JsonNode t = header.get(name);
            long[] shape = t.path("shape").valueStream().mapToLong(JsonNode::asLong).toArray();
            int begin = 8 + headerLength + t.path("data_offsets").get(0).asInt();
            int end = 8 + headerLength + t.path("data_offsets").get(1).asInt();
            String dtype = t.path("dtype").asString();
            int width = dtype.equals("F32") ? 4 : 2;
            float[] values = new float[(end - begin) / width];
            assertEquals(Arrays.stream(shape).reduce(1, (x, y) -> x * y), values.length, name);
            for (int i = 0; i < values.length; i++) {
                int at = begin + i * width;
                values[i] = switch (dtype) {
                    case "F32" -> buf.getFloat(at);
                    case "F16" -> HalfFloats.fromF16(buf.getShort(at));
                    case "BF16" -> HalfFloats.fromBf16(buf.getShort(at));
                    default -> throw new AssertionError(dtype);
                };
            }
            dataBytes += end - begin;
            tensors.put(name, new Stored(dtype, shape, values));
        }
        assertEquals(buf.capacity() - 8 - headerLength, dataBytes, "file is header + tensors, nothing else");
        return tensors;
    }

    private static JsonNode json(Path file) throws IOException {
        return JSON.readTree(Files.readString(file));
    }

    private static long id(String token) throws IOException {
        try (var in = TinyModels.class.getResourceAsStream(TinyModels.TOKENIZER_RESOURCE)) {
            JsonNode vocab = JSON.readTree(new String(in.readAllBytes(), StandardCharsets.UTF_8)).path("model").path("vocab");
            assertTrue(vocab.has(token), token);
            return vocab.path(token).asLong();
        }
    }

    private static List<Long> box(long[] ids) {
        return Arrays.stream(ids).boxed().toList();
    }
}
