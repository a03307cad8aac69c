package dev.kvlab.model.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.cache.KvCache;
import dev.kvlab.model.AbstractDecoder;
import dev.kvlab.model.ContextOverflowException;
import dev.kvlab.model.Gpt2Config;
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
    protected NDArray compute(int[] tokens, KvCache cache, boolean allPositions) {
        long first = cache.seenTokens();
        if (first + tokens.length > config.maxPositions()) {
            throw new ContextOverflowException("GPT-2 has learned positions for " + config.maxPositions()
                    + " tokens; the sequence would reach " + (first + tokens.length), config.maxPositions());
        }
        float eps = (float) config.layerNormEps();
        NDArray positions = weights.positionEmbedding().get(new NDIndex("{}:{}, :", first, first + tokens.length));
        NDArray x = weights.tokenEmbedding().get(tokenIndex(cache, tokens)).add(positions); // (T, hidden)
        for (int i = 0; i < config.numLayers(); i++) {
            Gpt2Weights.Layer w = weights.layer(i);
            x = x.add(attention(Norms.layer(x, w.ln1Weight(), w.ln1Bias(), eps), w, i, cache));
            NDArray h = Norms.layer(x, w.ln2Weight(), w.ln2Bias(), eps);
            x = x.add(Activations.geluNew(h.matMul(w.fcWeight()).add(w.fcBias()))
                    .matMul(w.mlpProjWeight()).add(w.mlpProjBias()));
        }
        cache.advance(tokens.length);
        NDArray h = Norms.layer(lastRows(x, allPositions), weights.finalNormWeight(), weights.finalNormBias(), eps);
        return h.matMul(weights.lmHead()).toType(DataType.FLOAT32, false);
    }

    private NDArray attention(NDArray x, Gpt2Weights.Layer w, int layer, KvCache cache) {
        NDArray qkv = x.matMul(w.attnWeight()).add(w.attnBias())
                .reshape(x.getShape().get(0), 3L * heads.heads(), heads.headDim());
        return Attention.forward(qkv, heads, layer, cache, null, null).matMul(w.attnProjWeight()).add(w.attnProjBias());
    }
}
