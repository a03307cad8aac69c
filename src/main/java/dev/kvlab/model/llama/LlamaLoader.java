package dev.kvlab.model.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.model.DeviceTensors;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds a {@link LlamaModel} from a checkpoint: maps the Hugging Face tensor names of the Llama
 * family onto {@link LlamaWeights}, fusing q/k/v and gate/up, with every shape checked on read.
 */
public final class LlamaLoader {

    private LlamaLoader() {}

    public static LlamaModel load(LlamaConfig config, DeviceTensors tensors, NDManager manager, DataType dtype) {
        return new LlamaModel(config, weights(config, tensors), manager, dtype);
    }

    static LlamaWeights weights(LlamaConfig c, DeviceTensors t) {
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
                ? t.tiedHead(embed)
                : t.linearFused(hidden, new String[] {"lm_head.weight"}, new long[] {c.vocabSize()});
        return new LlamaWeights(embed, layers, finalNorm, lmHead, t.parameters());
    }

    private static String[] suffix(String[] names, String suffix) {
        String[] out = new String[names.length];
        for (int i = 0; i < names.length; i++) {
            out[i] = names[i] + suffix;
        }
        return out;
    }
}
