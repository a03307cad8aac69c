package dev.kvlab.model.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.model.AbstractDecoder;
import dev.kvlab.model.CachedAttention;
import dev.kvlab.model.ForwardPass;
import dev.kvlab.model.ContextOverflowException;
import dev.kvlab.model.ModelConfig;
import dev.kvlab.model.nn.Activations;
import dev.kvlab.model.nn.Attention;
import dev.kvlab.model.nn.Norms;

/**
 * Hugging Face {@code GPT2LMHeadModel}: learned absolute positions, pre-norm blocks with LayerNorm,
 * fused {@code c_attn} and a {@code gelu_new} MLP. Positions are learned, so a sequence cannot go
 * past {@code n_positions} whatever the cache policy.
 */
public final class Gpt2Model extends AbstractDecoder {
    private final Gpt2Config config;
    private final Gpt2Weights weights;
    private final Attention.Heads heads;

    public Gpt2Model(Gpt2Config config, Gpt2Weights weights, NDManager manager, DataType dtype) {
        super(config, manager, dtype);
        this.config = config;
        this.weights = weights;
        this.heads = Attention.Heads.of(config.numHeads(), config.numHeads(), config.headDim(), manager, dtype);
        setParameterCount(weights.parameterCount());
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public void checkPositions(long first, int count) {
        if (first + count > config.maxPositions()) {
            throw new ContextOverflowException("GPT-2 has learned positions for " + config.maxPositions()
                    + " tokens; the sequence would reach " + (first + count), config.maxPositions());
        }
    }

    @Override
    protected NDArray compute(ForwardPass pass) {
        float eps = (float) config.layerNormEps();
        NDArray x = weights.tokenEmbedding().get(tokenIndex(pass)).add(weights.positionEmbedding().get(positions(pass)));
        CachedAttention.Plan plan = CachedAttention.plan(pass, null);
        for (int i = 0; i < config.numLayers(); i++) { // x: (rows, hidden)
            Gpt2Weights.Layer w = weights.layer(i);
            NDArray in = x;
            int layer = i;
            x = inLayerScope(() -> {
                NDArray a = in.add(attention(Norms.layer(in, w.ln1Weight(), w.ln1Bias(), eps), w, layer, pass, plan));
                NDArray h = Norms.layer(a, w.ln2Weight(), w.ln2Bias(), eps);
                return a.add(Activations.geluNew(h.matMul(w.fcWeight()).add(w.fcBias()))
                        .matMul(w.mlpProjWeight()).add(w.mlpProjBias()));
            });
        }
        NDArray h = Norms.layer(logitRows(x, pass), weights.finalNormWeight(), weights.finalNormBias(), eps);
        return h.matMul(weights.lmHead()).toType(DataType.FLOAT32, false);
    }

    /** Each row's learned position: a sequence's new tokens follow the tokens it has seen. */
    private static NDArray positions(ForwardPass pass) {
        long[] index = new long[pass.rows()];
        int r = 0;
        for (int s = 0; s < pass.size(); s++) {
            long first = pass.input(s).cache().seenTokens();
            for (int t = 0; t < pass.input(s).tokens().length; t++) {
                index[r++] = first + t;
            }
        }
        return pass.input(0).cache().manager().create(index);
    }

    private NDArray attention(NDArray x, Gpt2Weights.Layer w, int layer, ForwardPass pass,
            CachedAttention.Plan plan) {
        NDArray qkv = x.matMul(w.attnWeight()).add(w.attnBias())
                .reshape(x.getShape().get(0), 3L * heads.heads(), heads.headDim());
        return CachedAttention.forward(qkv, heads, layer, pass, null, plan).matMul(w.attnProjWeight())
                .add(w.attnProjBias());
    }
}
