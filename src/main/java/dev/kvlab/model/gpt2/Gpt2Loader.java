package dev.kvlab.model.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.model.DeviceTensors;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds a {@link Gpt2Model} from a checkpoint: maps the Hugging Face GPT-2 tensor names (with or
 * without the {@code transformer.} prefix) onto {@link Gpt2Weights}, with every shape checked on read.
 */
public final class Gpt2Loader {

    private Gpt2Loader() {}

    public static Gpt2Model load(Gpt2Config config, DeviceTensors tensors, NDManager manager, DataType dtype) {
        return new Gpt2Model(config, weights(config, tensors), manager, dtype);
    }

    static Gpt2Weights weights(Gpt2Config c, DeviceTensors t) {
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
        return new Gpt2Weights(wte, wpe, layers, lnW, lnB, t.tiedHead(wte), t.parameters());
    }
}
