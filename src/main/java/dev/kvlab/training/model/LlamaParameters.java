package dev.kvlab.training.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.model.llama.LlamaWeights;
import dev.kvlab.model.weights.SafetensorsWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The trainable tensors of a Llama model with tied embeddings, in the layout {@link
 * dev.kvlab.model.llama.LlamaModel} multiplies by ((in, out), q/k/v and gate/up fused), so training
 * runs the very forward pass the server runs. Converts to and from Hugging Face names and shapes
 * ((out, in), projections split), so a saved checkpoint is an ordinary {@code LlamaForCausalLM}.
 *
 * <p>Every array is a torch-owned copy (never a wrapper of a Java direct buffer, which DJL does
 * not keep alive under views) with gradients attached. The parameters own their manager.
 */
public final class LlamaParameters implements AutoCloseable {

    /**
     * One trainable tensor.
     *
     * @param name stable key (Hugging Face style, {@code .qkv} / {@code .gate_up} for fused ones),
     *     used for optimizer state in checkpoints
     * @param decay whether AdamW applies weight decay (matrices yes, norm gains no)
     */
    public record Parameter(String name, NDArray array, boolean decay) {}

    private final LlamaConfig config;
    private final NDManager manager;
    private final NDArray embed;
    private final List<NDArray[]> layers; // inputNorm, qkv, out, postNorm, gateUp, down
    private final NDArray finalNorm;
    private final List<Parameter> parameters;

    private LlamaParameters(LlamaConfig config, NDManager manager, NDArray embed, List<NDArray[]> layers,
            NDArray finalNorm) {
        this.config = config;
        this.manager = manager;
        this.embed = embed;
        this.layers = layers;
        this.finalNorm = finalNorm;
        List<Parameter> list = new ArrayList<>();
        list.add(new Parameter("model.embed_tokens.weight", embed, true));
        String[] names = {"input_layernorm.weight", "self_attn.qkv", "self_attn.o_proj", "post_attention_layernorm.weight",
            "mlp.gate_up", "mlp.down_proj"};
        for (int i = 0; i < layers.size(); i++) {
            NDArray[] l = layers.get(i);
            for (int k = 0; k < l.length; k++) {
                boolean matrix = l[k].getShape().dimension() == 2;
                list.add(new Parameter("model.layers." + i + "." + names[k], l[k], matrix));
            }
        }
        list.add(new Parameter("model.norm.weight", finalNorm, false));
        this.parameters = Collections.unmodifiableList(list);
        for (Parameter p : parameters) {
            p.array().setRequiresGradient(true);
        }
    }

    /**
     * Random initialization as in GPT-2 / Llama training: normal(0, 0.02) matrices, the two residual
     * projections (attention output, MLP down) scaled by 1/√(2·layers) so the residual stream does
     * not grow with depth, norm gains 1.
     */
    public static LlamaParameters initialize(LlamaConfig config, long seed, NDManager parent) {
        requireTrainable(config);
        NDManager manager = parent.newSubManager();
        Random random = new Random(seed);
        double std = 0.02;
        double residualStd = std / Math.sqrt(2.0 * config.numLayers());
        int h = config.hiddenSize();
        int q = config.numHeads() * config.headDim();
        int kv = config.numKvHeads() * config.headDim();
        int inter = config.intermediateSize();
        NDArray embed = tensor(manager, normal(random, (long) config.vocabSize() * h, std), config.vocabSize(), h);
        List<NDArray[]> layers = new ArrayList<>();
        for (int i = 0; i < config.numLayers(); i++) {
            layers.add(new NDArray[] {
                tensor(manager, ones(h), h),
                tensor(manager, normal(random, (long) h * (q + 2 * kv), std), h, q + 2 * kv),
                tensor(manager, normal(random, (long) q * h, residualStd), q, h),
                tensor(manager, ones(h), h),
                tensor(manager, normal(random, (long) h * 2 * inter, std), h, 2L * inter),
                tensor(manager, normal(random, (long) inter * h, residualStd), inter, h)});
        }
        NDArray finalNorm = tensor(manager, ones(h), h);
        return new LlamaParameters(config, manager, embed, layers, finalNorm);
    }

    /** Trainable copies of a loaded model's weights (to resume from a checkpoint saved by {@link #save}). */
    public static LlamaParameters copyOf(LlamaConfig config, LlamaWeights weights, NDManager parent) {
        requireTrainable(config);
        NDManager manager = parent.newSubManager();
        NDArray embed = copy(manager, weights.embedTokens());
        List<NDArray[]> layers = new ArrayList<>();
        for (LlamaWeights.Layer l : weights.layers()) {
            layers.add(new NDArray[] {copy(manager, l.inputNorm()), copy(manager, l.qkv()), copy(manager, l.out()),
                copy(manager, l.postAttentionNorm()), copy(manager, l.gateUp()), copy(manager, l.down())});
        }
        return new LlamaParameters(config, manager, embed, layers, copy(manager, weights.finalNorm()));
    }

    private static void requireTrainable(LlamaConfig config) {
        if (!config.tieWordEmbeddings() || config.attentionBias() || config.ropeScaling() != null) {
            throw new IllegalArgumentException("the trainer handles tied-embedding Llama models without biases or rope"
                    + " scaling");
        }
    }

    public LlamaConfig config() {
        return config;
    }

    /** All trainable tensors, embedding first. */
    public List<Parameter> parameters() {
        return parameters;
    }

    public long parameterCount() {
        long n = 0;
        for (Parameter p : parameters) {
            n += p.array().size();
        }
        return n;
    }

    /**
     * The weights as {@link dev.kvlab.model.llama.LlamaModel} takes them. The tied LM head is a fresh
     * transposed view of the embedding: create it inside the gradient collector of each step, so that
     * the head's gradient flows into the embedding, and let the step's scope close it.
     */
    public LlamaWeights forwardWeights() {
        List<LlamaWeights.Layer> list = new ArrayList<>();
        for (NDArray[] l : layers) {
            list.add(new LlamaWeights.Layer(l[0], l[1], null, l[2], l[3], l[4], l[5]));
        }
        return new LlamaWeights(embed, list, finalNorm, embed.transpose(), parameterCount());
    }

    /** Adds every tensor under its Hugging Face name and shape: (out, in), q/k/v and gate/up split. */
    public SafetensorsWriter toSafetensors() {
        SafetensorsWriter w = new SafetensorsWriter();
        int h = config.hiddenSize();
        int q = config.numHeads() * config.headDim();
        int kv = config.numKvHeads() * config.headDim();
        int inter = config.intermediateSize();
        w.put("model.embed_tokens.weight", embed.toFloatArray(), config.vocabSize(), h);
        for (int i = 0; i < layers.size(); i++) {
            NDArray[] l = layers.get(i);
            String p = "model.layers." + i + ".";
            w.put(p + "input_layernorm.weight", l[0].toFloatArray(), h);
            float[] qkv = transpose(l[1].toFloatArray(), h, q + 2 * kv); // (q + 2kv, h)
            w.put(p + "self_attn.q_proj.weight", rows(qkv, h, 0, q), q, h);
            w.put(p + "self_attn.k_proj.weight", rows(qkv, h, q, q + kv), kv, h);
            w.put(p + "self_attn.v_proj.weight", rows(qkv, h, q + kv, q + 2 * kv), kv, h);
            w.put(p + "self_attn.o_proj.weight", transpose(l[2].toFloatArray(), q, h), h, q);
            w.put(p + "post_attention_layernorm.weight", l[3].toFloatArray(), h);
            float[] gateUp = transpose(l[4].toFloatArray(), h, 2 * inter); // (2 inter, h)
            w.put(p + "mlp.gate_proj.weight", rows(gateUp, h, 0, inter), inter, h);
            w.put(p + "mlp.up_proj.weight", rows(gateUp, h, inter, 2 * inter), inter, h);
            w.put(p + "mlp.down_proj.weight", transpose(l[5].toFloatArray(), inter, h), h, inter);
        }
        w.put("model.norm.weight", finalNorm.toFloatArray(), h);
        return w;
    }

    /** Writes {@code model.safetensors} in Hugging Face layout (no {@code lm_head}: it is tied). */
    public void save(Path file, SafetensorsWriter.Dtype dtype) {
        toSafetensors().write(file, dtype);
    }

    @Override
    public void close() {
        manager.close();
    }

    /** A torch-owned f32 copy with its own storage (see the class comment). */
    static NDArray tensor(NDManager manager, float[] values, long... shape) {
        try (NDManager scratch = manager.newSubManager()) {
            NDArray wrapped = scratch.create(values, new Shape(shape));
            NDArray owned = wrapped.duplicate();
            owned.attach(manager);
            NDScope.unregister(owned); // owned by the parameters, not by a step scope that may be open
            return owned;
        }
    }

    private static NDArray copy(NDManager manager, NDArray source) {
        NDArray f32 = source.getDataType() == DataType.FLOAT32 ? source : source.toType(DataType.FLOAT32, true);
        return tensor(manager, f32.toFloatArray(), source.getShape().getShape());
    }

    private static float[] normal(Random random, long n, double std) {
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (random.nextGaussian() * std);
        }
        return v;
    }

    private static float[] ones(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        return v;
    }

    /** Row-major (r, c) to row-major (c, r). */
    static float[] transpose(float[] m, int r, int c) {
        float[] t = new float[m.length];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < c; j++) {
                t[j * r + i] = m[i * c + j];
            }
        }
        return t;
    }

    private static float[] rows(float[] m, int cols, int from, int to) {
        return java.util.Arrays.copyOfRange(m, from * cols, to * cols);
    }
}
