package dev.kvlab.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kvlab.model.gpt2.Gpt2Config;
import dev.kvlab.model.llama.LlamaConfig;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks {@link ReferenceForward} against a second formulation of one transformer block, written
 * token by token as vector operations (the reference works on whole (T, features) matrices), so
 * that a slip in either (Conv1D layout, q/k/v split, softmax scale, GQA grouping) shows.
 */
class OneLayerByHandTest {
    private static final int[] TOKENS = {TinyModels.BOS_ID, 72, 105, 258, 33, 266, 10};

    @TempDir Path dir;

    @Test
    void llamaBlockWithBiasGqaAndLlama3Rope() {
        TinyModel m = TinyModels.llama().layers(1).attentionBias(true).ropeScaling(TinyModels.llama3Scaling()).writeTo(dir);
        assertClose(llamaByHand((LlamaConfig) m.config(), m.weights(), TOKENS), ReferenceForward.logits(m, TOKENS));
    }

    @Test
    void gpt2Block() {
        TinyModel m = TinyModels.gpt2().layers(1).writeTo(dir);
        assertClose(gpt2ByHand((Gpt2Config) m.config(), m.weights(), TOKENS), ReferenceForward.logits(m, TOKENS));
    }

    private static double[][] llamaByHand(LlamaConfig c, Map<String, float[]> w, int[] tokens) {
        int hidden = c.hiddenSize();
        int hd = c.headDim();
        int nh = c.numHeads();
        int nkv = c.numKvHeads();
        int inter = c.intermediateSize();
        double[] invFreq = ReferenceForward.ropeInverseFrequencies(c);
        String p = "model.layers.0.";
        int seq = tokens.length;
        double[][] x = new double[seq][];
        double[][] q = new double[seq][];
        double[][] k = new double[seq][];
        double[][] v = new double[seq][];
        for (int t = 0; t < seq; t++) {
            x[t] = row(w.get("model.embed_tokens.weight"), tokens[t], hidden);
            double[] h = rms(x[t], w.get(p + "input_layernorm.weight"), c.rmsNormEps());
            q[t] = plus(outIn(w.get(p + "self_attn.q_proj.weight"), nh * hd, h), w.get(p + "self_attn.q_proj.bias"));
            k[t] = plus(outIn(w.get(p + "self_attn.k_proj.weight"), nkv * hd, h), w.get(p + "self_attn.k_proj.bias"));
            v[t] = plus(outIn(w.get(p + "self_attn.v_proj.weight"), nkv * hd, h), w.get(p + "self_attn.v_proj.bias"));
            for (int head = 0; head < nh; head++) {
                put(q[t], head * hd, ReferenceForward.applyRope(slice(q[t], head * hd, hd), t, invFreq));
            }
            for (int head = 0; head < nkv; head++) {
                put(k[t], head * hd, ReferenceForward.applyRope(slice(k[t], head * hd, hd), t, invFreq));
            }
        }
        double[][] logits = new double[seq][];
        for (int t = 0; t < seq; t++) {
            double[] attn = new double[nh * hd];
            for (int head = 0; head < nh; head++) {
                attend(attn, head * hd, slice(q[t], head * hd, hd), k, v, (head / (nh / nkv)) * hd, t, hd);
            }
            double[] y = plus(x[t], outIn(w.get(p + "self_attn.o_proj.weight"), hidden, attn));
            double[] h = rms(y, w.get(p + "post_attention_layernorm.weight"), c.rmsNormEps());
            double[] gate = outIn(w.get(p + "mlp.gate_proj.weight"), inter, h);
            double[] up = outIn(w.get(p + "mlp.up_proj.weight"), inter, h);
            double[] act = new double[inter];
            for (int i = 0; i < inter; i++) {
                act[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
            }
            y = plus(y, outIn(w.get(p + "mlp.down_proj.weight"), hidden, act));
            logits[t] = outIn(w.get("lm_head.weight"), c.vocabSize(), rms(y, w.get("model.norm.weight"), c.rmsNormEps()));
        }
        return logits;
    }

    private static double[][] gpt2ByHand(Gpt2Config c, Map<String, float[]> w, int[] tokens) {
        int hidden = c.hiddenSize();
        int hd = c.headDim();
        int seq = tokens.length;
        double eps = c.layerNormEps();
        double[][] x = new double[seq][];
        double[][] q = new double[seq][];
        double[][] k = new double[seq][];
        double[][] v = new double[seq][];
        for (int t = 0; t < seq; t++) {
            x[t] = plus(row(w.get("wte.weight"), tokens[t], hidden), w.get("wpe.weight"), t * hidden);
            double[] h = layerNorm(x[t], w.get("h.0.ln_1.weight"), w.get("h.0.ln_1.bias"), eps);
            double[] qkv = plus(inOut(h, w.get("h.0.attn.c_attn.weight"), 3 * hidden), w.get("h.0.attn.c_attn.bias"));
            q[t] = slice(qkv, 0, hidden);
            k[t] = slice(qkv, hidden, hidden);
            v[t] = slice(qkv, 2 * hidden, hidden);
        }
        double[][] logits = new double[seq][];
        for (int t = 0; t < seq; t++) {
            double[] attn = new double[hidden];
            for (int head = 0; head < c.numHeads(); head++) {
                attend(attn, head * hd, slice(q[t], head * hd, hd), k, v, head * hd, t, hd);
            }
            double[] y = plus(x[t], plus(inOut(attn, w.get("h.0.attn.c_proj.weight"), hidden), w.get("h.0.attn.c_proj.bias")));
            double[] h = layerNorm(y, w.get("h.0.ln_2.weight"), w.get("h.0.ln_2.bias"), eps);
            double[] fc = plus(inOut(h, w.get("h.0.mlp.c_fc.weight"), c.innerSize()), w.get("h.0.mlp.c_fc.bias"));
            for (int i = 0; i < fc.length; i++) {
                double u = fc[i];
                fc[i] = 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * Math.pow(u, 3))));
            }
            y = plus(y, plus(inOut(fc, w.get("h.0.mlp.c_proj.weight"), hidden), w.get("h.0.mlp.c_proj.bias")));
            logits[t] = outIn(w.get("wte.weight"), c.vocabSize(), layerNorm(y, w.get("ln_f.weight"), w.get("ln_f.bias"), eps));
        }
        return logits;
    }

    /** out[at..] += Σ_{s≤t} softmax_s(q·k_s/√d) v_s, keys and values read at kvAt. */
    private static void attend(double[] out, int at, double[] q, double[][] k, double[][] v, int kvAt, int t, int d) {
        double[] weights = new double[t + 1];
        double sum = 0;
        for (int s = 0; s <= t; s++) {
            double score = 0;
            for (int i = 0; i < d; i++) {
                score += q[i] * k[s][kvAt + i];
            }
            weights[s] = Math.exp(score / Math.sqrt(d)); // scores are small here: no max shift needed
            sum += weights[s];
        }
        for (int s = 0; s <= t; s++) {
            for (int i = 0; i < d; i++) {
                out[at + i] += weights[s] / sum * v[s][kvAt + i];
            }
        }
    }

    /** nn.Linear: weight (out, in). */
    private static double[] outIn(float[] weight, int out, double[] x) {
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < x.length; i++) {
                y[o] += weight[o * x.length + i] * x[i];
            }
        }
        return y;
    }

    /** GPT-2 Conv1D: weight (in, out). */
    private static double[] inOut(double[] x, float[] weight, int out) {
        double[] y = new double[out];
        for (int i = 0; i < x.length; i++) {
            for (int o = 0; o < out; o++) {
                y[o] += x[i] * weight[i * out + o];
            }
        }
        return y;
    }

    private static double[] rms(double[] x, float[] weight, double eps) {
        double ms = 0;
        for (double a : x) {
            ms += a * a / x.length;
        }
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i] / Math.sqrt(ms + eps) * weight[i];
        }
        return y;
    }

    private static double[] layerNorm(double[] x, float[] weight, float[] bias, double eps) {
        double mean = 0;
        for (double a : x) {
            mean += a / x.length;
        }
        double var = 0;
        for (double a : x) {
            var += (a - mean) * (a - mean) / x.length;
        }
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = (x[i] - mean) / Math.sqrt(var + eps) * weight[i] + bias[i];
        }
        return y;
    }

    private static double[] row(float[] table, int index, int width) {
        double[] r = new double[width];
        for (int i = 0; i < width; i++) {
            r[i] = table[index * width + i];
        }
        return r;
    }

    private static double[] plus(double[] a, float[] b) {
        return plus(a, b, 0);
    }

    private static double[] plus(double[] a, float[] b, int offset) {
        double[] y = a.clone();
        for (int i = 0; i < a.length; i++) {
            y[i] += b[offset + i];
        }
        return y;
    }

    private static double[] plus(double[] a, double[] b) {
        double[] y = a.clone();
        for (int i = 0; i < a.length; i++) {
            y[i] += b[i];
        }
        return y;
    }

    private static double[] slice(double[] x, int from, int length) {
        double[] y = new double[length];
        System.arraycopy(x, from, y, 0, length);
        return y;
    }

    private static void put(double[] x, int at, double[] values) {
        System.arraycopy(values, 0, x, at, values.length);
    }

    private static void assertClose(double[][] expected, float[][] actual) {
        assertEquals(expected.length, actual.length);
        for (int t = 0; t < expected.length; t++) {
            for (int i = 0; i < expected[t].length; i++) {
                assertEquals(expected[t][i], actual[t][i], 1e-5, "t=" + t + " i=" + i);
            }
        }
    }
}
