package dev.kvlab.testing;

import dev.kvlab.model.Architecture;
import dev.kvlab.model.ModelConfig;
import dev.kvlab.model.gpt2.Gpt2Config;
import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.model.llama.LlamaConfig.Llama3RopeScaling;
import dev.kvlab.model.weights.HalfFloats;
import dev.kvlab.model.weights.SafetensorsWriter;
import dev.kvlab.model.weights.SafetensorsWriter.Dtype;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * Writes tiny random causal LMs in exact Hugging Face layout ({@code config.json},
 * {@code generation_config.json}, safetensors or sharded safetensors + index, {@code
 * tokenizer.json}), deterministic from a seed. They let loaders and the engine be tested against
 * {@link ReferenceForward} on every layout variant real checkpoints use, with no download.
 *
 * <pre>{@code
 * TinyModel m = TinyModels.llama().kvHeads(2).dtype(Dtype.F16).sharded(true).seed(7).writeTo(dir);
 * }</pre>
 */
public final class TinyModels {

    /** The fixture tokenizer: byte-level BPE, ids 0–255 are the bytes, then merges, then specials. */
    public static final String TOKENIZER_RESOURCE = "/fixtures/byte-tokenizer.json";
    public static final int VOCAB_SIZE;
    public static final int BOS_ID;
    public static final int EOS_ID;

    private static final ObjectMapper JSON = JsonMapper.builder().build();

    static {
        JsonNode tokenizer = JSON.readTree(new String(tokenizerBytes(), StandardCharsets.UTF_8));
        int maxId = -1;
        for (JsonNode id : tokenizer.path("model").path("vocab")) {
            maxId = Math.max(maxId, id.asInt());
        }
        int bos = -1;
        int eos = -1;
        for (JsonNode added : tokenizer.path("added_tokens")) {
            int id = added.path("id").asInt();
            maxId = Math.max(maxId, id);
            switch (added.path("content").asString()) {
                case "<|bos|>" -> bos = id;
                case "<|eos|>" -> eos = id;
                default -> { }
            }
        }
        VOCAB_SIZE = maxId + 1;
        BOS_ID = bos;
        EOS_ID = eos;
    }

    private TinyModels() {}

    /** LlamaForCausalLM: hidden 64, 2 layers, 4 heads, 2 KV heads, MLP 128, 256 positions, untied. */
    public static Builder llama() {
        return new Builder(Architecture.LLAMA);
    }

    /** GPT2LMHeadModel: n_embd 64, 2 layers, 4 heads, n_positions 128, names without "transformer.". */
    public static Builder gpt2() {
        return new Builder(Architecture.GPT2);
    }

    /** The fixture's Llama 3 scaling, small enough that all three frequency bands occur at head dim 16. */
    public static Llama3RopeScaling llama3Scaling() {
        return new Llama3RopeScaling(8.0, 1.0, 4.0, 64);
    }

    /** Options of one tiny model; every setter returns this builder. */
    public static final class Builder {
        private final Architecture architecture;
        private long seed = 42;
        private int hidden = 64;
        private int layers = 2;
        private int heads = 4;
        private int kvHeads;
        private int headDim;
        private int intermediate;
        private int maxPositions;
        private int vocabPadding;
        private boolean tieWordEmbeddings;
        private boolean attentionBias;
        private Llama3RopeScaling ropeScaling;
        private double ropeTheta = 10000.0;
        private Dtype dtype = Dtype.F32;
        private boolean sharded;
        private boolean transformerPrefix;

        private Builder(Architecture architecture) {
            this.architecture = architecture;
            boolean llama = architecture == Architecture.LLAMA;
            this.kvHeads = llama ? 2 : 4;
            this.intermediate = llama ? 128 : 4 * hidden;
            this.maxPositions = llama ? 256 : 128;
        }

        public Builder seed(long v) { seed = v; return this; }
        public Builder hidden(int v) { hidden = v; return this; }
        public Builder layers(int v) { layers = v; return this; }
        public Builder heads(int v) { heads = v; return this; }
        /** Llama only; equal to heads means plain multi-head attention. */
        public Builder kvHeads(int v) { kvHeads = v; return this; }
        /** Llama only: writes {@code head_dim} into config.json (0 = hidden / heads). */
        public Builder headDim(int v) { headDim = v; return this; }
        /** Llama {@code intermediate_size}, GPT-2 {@code n_inner}. */
        public Builder intermediate(int v) { intermediate = v; return this; }
        public Builder maxPositions(int v) { maxPositions = v; return this; }
        /** Extra embedding rows beyond the tokenizer (as Qwen2 pads its vocab): no token maps to them. */
        public Builder vocabPadding(int v) { vocabPadding = v; return this; }
        /** Llama only (GPT-2 is always tied): no {@code lm_head.weight} is written when true. */
        public Builder tieWordEmbeddings(boolean v) { tieWordEmbeddings = v; return this; }
        /** Llama only: q/k/v biases, written as a Qwen2 checkpoint ({@code Qwen2ForCausalLM}). */
        public Builder attentionBias(boolean v) { attentionBias = v; return this; }
        /** Llama only: {@code rope_scaling} of type llama3, or null for none. */
        public Builder ropeScaling(Llama3RopeScaling v) { ropeScaling = v; return this; }
        public Builder ropeTheta(double v) { ropeTheta = v; return this; }
        public Builder dtype(Dtype v) { dtype = v; return this; }
        /** Two shards plus {@code model.safetensors.index.json} instead of one {@code model.safetensors}. */
        public Builder sharded(boolean v) { sharded = v; return this; }
        /** GPT-2 only: names as {@code save_pretrained} writes them today ({@code transformer.h.0…}). */
        public Builder transformerPrefix(boolean v) { transformerPrefix = v; return this; }

        public ModelConfig config() {
            int vocab = VOCAB_SIZE + vocabPadding;
            if (architecture == Architecture.GPT2) {
                return new Gpt2Config(vocab, hidden, intermediate, layers, heads, maxPositions, 1e-5);
            }
            double eps = attentionBias ? 1e-6 : 1e-5;
            return new LlamaConfig(vocab, hidden, intermediate, layers, heads, kvHeads, headDim, maxPositions,
                    eps, ropeTheta, ropeScaling, attentionBias, tieWordEmbeddings);
        }

        /** Writes the model folder (created if missing) and returns what it holds. */
        public TinyModel writeTo(Path dir) {
            ModelConfig config = config();
            Map<String, float[]> weights = new LinkedHashMap<>();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            Random random = new Random(seed);
            for (TensorSpec t : tensors(config)) {
                weights.put(t.name, t.init.sample(random, t.size(), dtype));
                shapes.put(t.name, t.shape);
            }
            try {
                Files.createDirectories(dir);
                writeSafetensors(dir, weights, shapes);
                Files.writeString(dir.resolve("config.json"), pretty(HfConfigs.config(config, dtype, transformerPrefix)));
                Files.writeString(dir.resolve("generation_config.json"), pretty(HfConfigs.generationConfig(config)));
                Files.write(dir.resolve("tokenizer.json"), tokenizerBytes());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write tiny model to " + dir, e);
            }
            return new TinyModel(dir, config, Collections.unmodifiableMap(weights));
        }

        private List<TensorSpec> tensors(ModelConfig c) {
            List<TensorSpec> t = new ArrayList<>();
            int h = c.hiddenSize();
            int v = c.vocabSize();
            if (c instanceof LlamaConfig l) {
                int q = l.numHeads() * l.headDim();
                int kv = l.numKvHeads() * l.headDim();
                t.add(new TensorSpec("model.embed_tokens.weight", Init.EMBEDDING, v, h));
                for (int i = 0; i < l.numLayers(); i++) {
                    String p = "model.layers." + i + ".";
                    t.add(new TensorSpec(p + "input_layernorm.weight", Init.NORM, h));
                    t.add(new TensorSpec(p + "self_attn.q_proj.weight", Init.LINEAR, q, h));
                    t.add(new TensorSpec(p + "self_attn.k_proj.weight", Init.LINEAR, kv, h));
                    t.add(new TensorSpec(p + "self_attn.v_proj.weight", Init.LINEAR, kv, h));
                    if (l.attentionBias()) {
                        t.add(new TensorSpec(p + "self_attn.q_proj.bias", Init.BIAS, q));
                        t.add(new TensorSpec(p + "self_attn.k_proj.bias", Init.BIAS, kv));
                        t.add(new TensorSpec(p + "self_attn.v_proj.bias", Init.BIAS, kv));
                    }
                    t.add(new TensorSpec(p + "self_attn.o_proj.weight", Init.LINEAR, h, q));
                    t.add(new TensorSpec(p + "post_attention_layernorm.weight", Init.NORM, h));
                    t.add(new TensorSpec(p + "mlp.gate_proj.weight", Init.LINEAR, l.intermediateSize(), h));
                    t.add(new TensorSpec(p + "mlp.up_proj.weight", Init.LINEAR, l.intermediateSize(), h));
                    t.add(new TensorSpec(p + "mlp.down_proj.weight", Init.LINEAR, h, l.intermediateSize()));
                }
                t.add(new TensorSpec("model.norm.weight", Init.NORM, h));
                if (!l.tieWordEmbeddings()) {
                    t.add(new TensorSpec("lm_head.weight", Init.EMBEDDING, v, h));
                }
                return t;
            }
            Gpt2Config g = (Gpt2Config) c;
            String root = transformerPrefix ? "transformer." : "";
            t.add(new TensorSpec(root + "wte.weight", Init.EMBEDDING, v, h));
            t.add(new TensorSpec(root + "wpe.weight", Init.LINEAR, g.maxPositions(), h));
            for (int i = 0; i < g.numLayers(); i++) {
                String p = root + "h." + i + ".";
                t.add(new TensorSpec(p + "ln_1.weight", Init.NORM, h));
                t.add(new TensorSpec(p + "ln_1.bias", Init.BIAS, h));
                t.add(new TensorSpec(p + "attn.c_attn.weight", Init.LINEAR, h, 3 * h)); // Conv1D: (in, out)
                t.add(new TensorSpec(p + "attn.c_attn.bias", Init.BIAS, 3 * h));
                t.add(new TensorSpec(p + "attn.c_proj.weight", Init.LINEAR, h, h));
                t.add(new TensorSpec(p + "attn.c_proj.bias", Init.BIAS, h));
                t.add(new TensorSpec(p + "ln_2.weight", Init.NORM, h));
                t.add(new TensorSpec(p + "ln_2.bias", Init.BIAS, h));
                t.add(new TensorSpec(p + "mlp.c_fc.weight", Init.LINEAR, h, g.innerSize()));
                t.add(new TensorSpec(p + "mlp.c_fc.bias", Init.BIAS, g.innerSize()));
                t.add(new TensorSpec(p + "mlp.c_proj.weight", Init.LINEAR, g.innerSize(), h));
                t.add(new TensorSpec(p + "mlp.c_proj.bias", Init.BIAS, h));
            }
            t.add(new TensorSpec(root + "ln_f.weight", Init.NORM, h));
            t.add(new TensorSpec(root + "ln_f.bias", Init.BIAS, h));
            return t;
        }

        /** Tensors go into files sorted by name, as the Python writer does; shards split the list in half. */
        private void writeSafetensors(Path dir, Map<String, float[]> weights, Map<String, long[]> shapes)
                throws IOException {
            List<String> names = new ArrayList<>(new TreeMap<>(weights).keySet());
            if (!sharded) {
                SafetensorsWriter w = new SafetensorsWriter();
                names.forEach(n -> w.put(n, weights.get(n), shapes.get(n)));
                w.write(dir.resolve("model.safetensors"), dtype);
                return;
            }
            List<List<String>> shards = List.of(names.subList(0, names.size() / 2), names.subList(names.size() / 2, names.size()));
            Map<String, String> weightMap = new TreeMap<>();
            long totalBytes = 0;
            for (int s = 0; s < shards.size(); s++) {
                String file = String.format("model-%05d-of-%05d.safetensors", s + 1, shards.size());
                SafetensorsWriter w = new SafetensorsWriter();
                for (String n : shards.get(s)) {
                    w.put(n, weights.get(n), shapes.get(n));
                    weightMap.put(n, file);
                    totalBytes += (long) weights.get(n).length * (dtype == Dtype.F32 ? 4 : 2);
                }
                w.write(dir.resolve(file), dtype);
            }
            Map<String, Object> index = new LinkedHashMap<>();
            index.put("metadata", Map.of("total_size", totalBytes));
            index.put("weight_map", weightMap);
            Files.writeString(dir.resolve("model.safetensors.index.json"), pretty(index));
        }
    }

    private record TensorSpec(String name, Init init, long... shape) {
        int size() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return Math.toIntExact(n);
        }
    }

    /** How a tensor is drawn: large enough that attention and logits are far from uniform. */
    private enum Init {
        EMBEDDING(0.0, 0.2), LINEAR(0.0, 0.1), NORM(1.0, 0.1), BIAS(0.0, 0.05);

        private final double mean;
        private final double std;

        Init(double mean, double std) {
            this.mean = mean;
            this.std = std;
        }

        /** Values already rounded to the storage dtype, so the written file holds exactly them. */
        float[] sample(Random random, int n, Dtype dtype) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                float x = (float) (mean + std * random.nextGaussian());
                v[i] = switch (dtype) {
                    case F32 -> x;
                    case F16 -> HalfFloats.fromF16(HalfFloats.toF16(x));
                    case BF16 -> HalfFloats.fromBf16(HalfFloats.toBf16(x));
                };
            }
            return v;
        }
    }

    private static String pretty(Object json) {
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n";
    }

    private static byte[] tokenizerBytes() {
        try (InputStream in = TinyModels.class.getResourceAsStream(TOKENIZER_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + TOKENIZER_RESOURCE);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
