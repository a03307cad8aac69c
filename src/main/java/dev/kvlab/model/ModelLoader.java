package dev.kvlab.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.model.gpt2.Gpt2Model;
import dev.kvlab.model.gpt2.Gpt2Weights;
import dev.kvlab.model.llama.LlamaModel;
import dev.kvlab.model.llama.LlamaWeights;
import dev.kvlab.model.weights.WeightSource;
import dev.kvlab.model.weights.WeightSources;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a {@link TransformerModel} from a Hugging Face model folder: reads the config, streams
 * each tensor from the memory-mapped safetensors onto the device in the compute dtype, and maps
 * the Hugging Face names of each architecture onto its weight records (the name map is explicit
 * and every shape is checked).
 */
public final class ModelLoader {
    private static final Logger log = LoggerFactory.getLogger(ModelLoader.class);

    private ModelLoader() {}

    /**
     * Where to run and in which dtype; {@code dtype} null means f32 on CPU, f16 on GPU.
     * {@code decodeThreads}: PyTorch intra-op threads for single-token steps on a CPU (see
     * {@link IntraOpThreads}); 0 means the same as prefill, null the default of 1.
     */
    public record Options(String device, DataType dtype, Integer decodeThreads) {
        public static final int DEFAULT_DECODE_THREADS = 1;

        public Options(String device, DataType dtype) {
            this(device, dtype, null);
        }

        public static Options defaults() {
            return new Options("auto", null);
        }

        int decodeThreadsOrDefault() {
            return decodeThreads == null ? DEFAULT_DECODE_THREADS : decodeThreads;
        }
    }

    public static TransformerModel load(Path modelDir, Options options) {
        ModelFolder folder = ModelFolder.open(modelDir);
        Device device = resolveDevice(options.device());
        try (WeightSource source = WeightSources.open(modelDir)) {
            DataType dtype = options.dtype() != null ? options.dtype() : defaultDtype(device, source);
            return load(folder.config(), source, device, dtype, options.decodeThreadsOrDefault());
        }
    }

    /**
     * f32 on a CPU. On a GPU f16, except for a checkpoint stored in bf16: bf16 has f32's exponent
     * range and f16 has not, so its activations may overflow in f16; such a model loads as f32 (twice
     * the memory, correct) unless {@code kvlab.model.dtype=f16} asks otherwise.
     */
    static DataType defaultDtype(Device device, WeightSource source) {
        if (!device.isGpu()) {
            return DataType.FLOAT32;
        }
        boolean bf16 = source.names().stream().anyMatch(name -> "BF16".equals(source.dtype(name)));
        if (bf16) {
            log.warn("The checkpoint is stored in bf16, which f16 cannot hold without overflow: loading it as f32 on"
                    + " {} (set kvlab.model.dtype=f16 to halve the memory at that risk)", device);
            return DataType.FLOAT32;
        }
        return DataType.FLOAT16;
    }

    public static TransformerModel load(ModelConfig config, WeightSource source, Device device, DataType dtype) {
        return load(config, source, device, dtype, Options.DEFAULT_DECODE_THREADS);
    }

    private static TransformerModel load(ModelConfig config, WeightSource source, Device device, DataType dtype,
            int decodeThreads) {
        if (decodeThreads < 0) {
            throw new IllegalArgumentException("decode threads must be 0 (as prefill) or positive, got " + decodeThreads);
        }
        NDManager manager = NDManager.newBaseManager(device);
        try {
            DeviceTensors tensors = new DeviceTensors(source, manager, dtype);
            AbstractDecoder model;
            if (config instanceof LlamaConfig llama) {
                model = new LlamaModel(llama, llamaWeights(llama, tensors), manager, dtype);
            } else {
                Gpt2Config gpt2 = (Gpt2Config) config; // the only other permitted ModelConfig
                model = new Gpt2Model(gpt2, gpt2Weights(gpt2, tensors), manager, dtype);
            }
            model.setThreads(device.isGpu() ? IntraOpThreads.unchanged() : IntraOpThreads.forCpu(decodeThreads));
            return model;
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * {@code auto} picks the first GPU when the engine sees one; {@code gpu} or {@code gpu:N} fail
     * clearly when there is none.
     */
    public static Device resolveDevice(String spec) {
        String s = spec == null ? "auto" : spec.trim().toLowerCase(Locale.ROOT);
        int gpus = Engine.getInstance().getGpuCount();
        if (s.equals("auto")) {
            return gpus > 0 ? Device.gpu(0) : Device.cpu();
        }
        if (s.equals("cpu")) {
            return Device.cpu();
        }
        if (s.equals("gpu") || s.startsWith("gpu:")) {
            int index;
            try {
                index = s.equals("gpu") ? 0 : Integer.parseInt(s.substring(4));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("kvlab.device: '" + spec + "' is not auto, cpu, gpu or gpu:N");
            }
            if (index >= gpus) {
                throw new IllegalArgumentException("kvlab.device: " + spec + " requested but the engine sees "
                        + gpus + " GPU(s)");
            }
            return Device.gpu(index);
        }
        throw new IllegalArgumentException("kvlab.device: '" + spec + "' is not auto, cpu, gpu or gpu:N");
    }

    private static LlamaWeights llamaWeights(LlamaConfig c, DeviceTensors t) {
        long hidden = c.hiddenSize();
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        long inter = c.intermediateSize();
        NDArray embed = t.raw("model.embed_tokens.weight", c.vocabSize(), hidden);
        List<LlamaWeights.Layer> layers = new ArrayList<>();
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            String[] qkvNames = {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"};
            long[] qkvOuts = {q, kv, kv};
            layers.add(new LlamaWeights.Layer(
                    t.raw(p + "input_layernorm.weight", hidden),
                    t.linearFused(hidden, suffix(qkvNames, ".weight"), qkvOuts),
                    c.attentionBias() ? t.biasFused(suffix(qkvNames, ".bias"), qkvOuts) : null,
                    t.linearFused(q, new String[] {p + "self_attn.o_proj.weight"}, new long[] {hidden}),
                    t.raw(p + "post_attention_layernorm.weight", hidden),
                    t.linearFused(hidden, new String[] {p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"},
                            new long[] {inter, inter}),
                    t.linearFused(inter, new String[] {p + "mlp.down_proj.weight"}, new long[] {hidden})));
        }
        NDArray finalNorm = t.raw("model.norm.weight", hidden);
        NDArray lmHead = c.tieWordEmbeddings()
                ? tiedHead(embed)
                : t.linearFused(hidden, new String[] {"lm_head.weight"}, new long[] {c.vocabSize()});
        return new LlamaWeights(embed, layers, finalNorm, lmHead, t.parameters());
    }

    /** Tied weights: the LM head is a transposed view of the embedding, sharing its storage. */
    private static NDArray tiedHead(NDArray embed) {
        return embed.transpose();
    }

    private static Gpt2Weights gpt2Weights(Gpt2Config c, DeviceTensors t) {
        long h = c.hiddenSize();
        long inner = c.innerSize();
        String prefix = t.has("wte.weight") ? "" : "transformer.";
        NDArray wte = t.raw(prefix + "wte.weight", c.vocabSize(), h);
        NDArray wpe = t.raw(prefix + "wpe.weight", c.maxPositions(), h);
        List<Gpt2Weights.Layer> layers = new ArrayList<>();
        for (int i = 0; i < c.numLayers(); i++) {
            String p = prefix + "h." + i + ".";
            layers.add(new Gpt2Weights.Layer(
                    t.raw(p + "ln_1.weight", h), t.raw(p + "ln_1.bias", h),
                    t.conv1d(p + "attn.c_attn.weight", h, 3 * h), t.raw(p + "attn.c_attn.bias", 3 * h),
                    t.conv1d(p + "attn.c_proj.weight", h, h), t.raw(p + "attn.c_proj.bias", h),
                    t.raw(p + "ln_2.weight", h), t.raw(p + "ln_2.bias", h),
                    t.conv1d(p + "mlp.c_fc.weight", h, inner), t.raw(p + "mlp.c_fc.bias", inner),
                    t.conv1d(p + "mlp.c_proj.weight", inner, h), t.raw(p + "mlp.c_proj.bias", h)));
        }
        NDArray lnW = t.raw(prefix + "ln_f.weight", h);
        NDArray lnB = t.raw(prefix + "ln_f.bias", h);
        return new Gpt2Weights(wte, wpe, layers, lnW, lnB, tiedHead(wte), t.parameters());
    }

    private static String[] suffix(String[] names, String suffix) {
        String[] out = new String[names.length];
        for (int i = 0; i < names.length; i++) {
            out[i] = names[i] + suffix;
        }
        return out;
    }
}
