package dev.kvlab.model.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.model.AbstractDecoder;
import dev.kvlab.model.CachedAttention;
import dev.kvlab.model.ForwardPass;
import dev.kvlab.model.ModelConfig;
import dev.kvlab.model.nn.Activations;
import dev.kvlab.model.nn.Attention;
import dev.kvlab.model.nn.Norms;
import dev.kvlab.model.nn.Rope;

/**
 * Hugging Face {@code LlamaForCausalLM} (also Mistral and Qwen2): pre-norm blocks of RMSNorm,
 * rotary grouped-query attention and a SwiGLU MLP. Q, K and V are one fused matmul, gate and up
 * another, so a decode step costs few native calls.
 */
public final class LlamaModel extends AbstractDecoder {
    private final LlamaConfig config;
    private final LlamaWeights weights;
    private final Rope rope;
    private final Attention.Heads heads;
    private final NDArray eps; // f32 scalar, for RMSNorm

    public LlamaModel(LlamaConfig config, LlamaWeights weights, NDManager manager, DataType dtype) {
        super(config, manager, dtype);
        this.config = config;
        this.weights = weights;
        this.rope = new Rope(manager, dtype, RopeFrequencies.of(config), config.maxPositions());
        this.heads = Attention.Heads.of(config.numHeads(), config.numKvHeads(), config.headDim(), manager, dtype);
        this.eps = manager.create((float) config.rmsNormEps());
        NDScope.unregister(eps);
        setParameterCount(weights.parameterCount());
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    /** The trainable tensors, for the trainer (same arrays the forward pass reads). */
    public LlamaWeights weights() {
        return weights;
    }

    @Override
    protected NDArray compute(ForwardPass pass) {
        NDArray x = weights.embedTokens().get(tokenIndex(pass)); // (rows, hidden)
        // every layer rotates a sequence's new tokens by the same angles: plan the rotations once
        CachedAttention.Plan positions = CachedAttention.plan(pass, rope);
        for (int i = 0; i < config.numLayers(); i++) {
            LlamaWeights.Layer w = weights.layer(i);
            NDArray in = x;
            int layer = i;
            x = inLayerScope(() -> {
                NDArray h = in.add(attention(Norms.rms(in, w.inputNorm(), eps), w, layer, pass, positions));
                return h.add(mlp(Norms.rms(h, w.postAttentionNorm(), eps), w));
            });
        }
        NDArray h = Norms.rms(logitRows(x, pass), weights.finalNorm(), eps);
        return h.matMul(weights.lmHead()).toType(DataType.FLOAT32, false); // (logit rows, vocab)
    }

    private NDArray attention(NDArray x, LlamaWeights.Layer w, int layer, ForwardPass pass,
            CachedAttention.Plan positions) {
        NDArray qkv = x.matMul(w.qkv()); // (rows, (heads + 2 kvHeads) d)
        if (w.qkvBias() != null) {
            qkv = qkv.add(w.qkvBias());
        }
        qkv = qkv.reshape(x.getShape().get(0), heads.heads() + 2L * heads.kvHeads(), heads.headDim());
        return CachedAttention.forward(qkv, heads, layer, pass, rope, positions).matMul(w.out());
    }

    private NDArray mlp(NDArray x, LlamaWeights.Layer w) {
        NDList gateUp = x.matMul(w.gateUp()).split(2, 1); // (T, 2·intermediate) -> 2 × (T, intermediate)
        return Activations.silu(gateUp.get(0)).mul(gateUp.get(1)).matMul(w.down());
    }
}
