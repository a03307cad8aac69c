package dev.kvlab.testing;

import dev.kvlab.model.ModelConfig;
import dev.kvlab.model.gpt2.Gpt2Config;
import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.model.llama.LlamaConfig.Llama3RopeScaling;
import java.util.Map;

/**
 * The specification the engine's forward pass is judged by: a plain-Java, double-precision,
 * loop-by-loop causal forward pass written straight from Hugging Face's {@code modeling_llama.py}
 * and {@code modeling_gpt2.py}. It shares no code with the engine (only the config records), so a
 * convention the engine gets wrong (RoPE halves, GQA grouping, Conv1D layout, gelu flavour) shows
 * up as a logit mismatch. Slow by design: tiny models only.
 *
 * <p>Activations are {@code double[T][features]}; weights are the row-major f32 tensors of the
 * checkpoint, looked up by their Hugging Face names.
 */
public final class ReferenceForward {
    private ReferenceForward() {}

    /** Logits (T, vocab) of a full causal forward over {@code tokens} at positions 0..T-1. */
    public static float[][] logits(TinyModel model, int[] tokens) {
        return logits(model.config(), model.weights(), tokens);
    }

    /** Same, for any checkpoint whose tensors are already in memory under their HF names. */
    public static float[][] logits(ModelConfig config, Map<String, float[]> weights, int[] tokens) {
        for (int t : tokens) {
            if (t < 0 || t >= config.vocabSize()) {
                throw new IllegalArgumentException("token " + t + " outside vocab of " + config.vocabSize());
            }
        }
        if (tokens.length == 0) {
            throw new IllegalArgumentException("no tokens");
        }
        double[][] logits = config instanceof LlamaConfig l
                ? llama(l, new Weights(weights), tokens)
                : gpt2((Gpt2Config) config, new Weights(weights), tokens);
        float[][] out = new float[logits.length][];
        for (int t = 0; t < logits.length; t++) {
            out[t] = new float[logits[t].length];
            for (int i = 0; i < logits[t].length; i++) {
                out[t][i] = (float) logits[t][i];
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- Llama (LlamaForCausalLM)

    private static double[][] llama(LlamaConfig c, Weights w, int[] tokens) {
        int hidden = c.hiddenSize();
        int hd = c.headDim();
        int qSize = c.numHeads() * hd;
        int kvSize = c.numKvHeads() * hd;
        int inter = c.intermediateSize();
        double[] invFreq = ropeInverseFrequencies(c);

        double[][] x = embed(w.get("model.embed_tokens.weight", (long) c.vocabSize() * hidden), tokens, hidden); // (T, H)
        for (int layer = 0; layer < c.numLayers(); layer++) {
            String p = "model.layers." + layer + ".";
            // x = x + o_proj(attention(rope(q), rope(k), v))
            double[][] h = rmsNorm(x, w.get(p + "input_layernorm.weight", hidden), c.rmsNormEps());
            double[][] q = linear(h, w.get(p + "self_attn.q_proj.weight", (long) qSize * hidden), qSize, hidden); // (T, nh*hd)
            double[][] k = linear(h, w.get(p + "self_attn.k_proj.weight", (long) kvSize * hidden), kvSize, hidden); // (T, nkv*hd)
            double[][] v = linear(h, w.get(p + "self_attn.v_proj.weight", (long) kvSize * hidden), kvSize, hidden);
            if (c.attentionBias()) {
                addBias(q, w.get(p + "self_attn.q_proj.bias", qSize));
                addBias(k, w.get(p + "self_attn.k_proj.bias", kvSize));
                addBias(v, w.get(p + "self_attn.v_proj.bias", kvSize));
            }
            for (int t = 0; t < tokens.length; t++) {
                for (int head = 0; head < c.numHeads(); head++) {
                    ropeInPlace(q[t], head * hd, hd, t, invFreq);
                }
                for (int head = 0; head < c.numKvHeads(); head++) {
                    ropeInPlace(k[t], head * hd, hd, t, invFreq);
                }
            }
            double[][] attn = causalAttention(q, k, v, c.numHeads(), c.numKvHeads(), hd); // (T, nh*hd)
            addInPlace(x, linear(attn, w.get(p + "self_attn.o_proj.weight", (long) hidden * qSize), hidden, qSize));

            // x = x + down_proj(silu(gate_proj(h)) * up_proj(h))
            h = rmsNorm(x, w.get(p + "post_attention_layernorm.weight", hidden), c.rmsNormEps());
            double[][] gate = linear(h, w.get(p + "mlp.gate_proj.weight", (long) inter * hidden), inter, hidden); // (T, I)
            double[][] up = linear(h, w.get(p + "mlp.up_proj.weight", (long) inter * hidden), inter, hidden);
            for (int t = 0; t < gate.length; t++) {
                for (int i = 0; i < inter; i++) {
                    gate[t][i] = silu(gate[t][i]) * up[t][i];
                }
            }
            addInPlace(x, linear(gate, w.get(p + "mlp.down_proj.weight", (long) hidden * inter), hidden, inter));
        }
        x = rmsNorm(x, w.get("model.norm.weight", hidden), c.rmsNormEps());
        String head = c.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight";
        return linear(x, w.get(head, (long) c.vocabSize() * hidden), c.vocabSize(), hidden); // (T, V)
    }

    /**
     * RoPE inverse frequencies {@code theta^(-2i/d)}, i < d/2, after {@code rope_scaling} of type
     * llama3 exactly as HF's {@code _compute_llama3_parameters}: wavelengths shorter than
     * original/high_freq_factor are kept, longer than original/low_freq_factor are divided by
     * factor, and those between are interpolated.
     */
    public static double[] ropeInverseFrequencies(LlamaConfig c) {
        int d = c.headDim();
        double[] invFreq = new double[d / 2];
        for (int i = 0; i < d / 2; i++) {
            invFreq[i] = 1.0 / Math.pow(c.ropeTheta(), (2.0 * i) / d);
        }
        Llama3RopeScaling s = c.ropeScaling();
        if (s == null) {
            return invFreq;
        }
        double lowFreqWavelen = s.originalMaxPositions() / s.lowFreqFactor();
        double highFreqWavelen = s.originalMaxPositions() / s.highFreqFactor();
        for (int i = 0; i < invFreq.length; i++) {
            double wavelen = 2 * Math.PI / invFreq[i];
            if (wavelen > lowFreqWavelen) {
                invFreq[i] = invFreq[i] / s.factor();
            } else if (wavelen >= highFreqWavelen) { // medium band: not < high and not > low
                double smooth = (s.originalMaxPositions() / wavelen - s.lowFreqFactor())
                        / (s.highFreqFactor() - s.lowFreqFactor());
                invFreq[i] = (1 - smooth) * invFreq[i] / s.factor() + smooth * invFreq[i];
            }
        }
        return invFreq;
    }

    /**
     * HF {@code apply_rotary_pos_emb} on one head vector: {@code x*cos + rotate_half(x)*sin} with
     * cos/sin of {@code position*invFreq} duplicated over both halves of the head dim and {@code
     * rotate_half(x) = cat(-x[d/2:], x[:d/2])}, i.e. dimension i is paired with i + d/2 (not with
     * i + 1 as in GPT-J's interleaved form).
     */
    public static double[] applyRope(double[] x, int position, double[] invFreq) {
        double[] out = x.clone();
        ropeInPlace(out, 0, x.length, position, invFreq);
        return out;
    }

    private static void ropeInPlace(double[] row, int offset, int d, int position, double[] invFreq) {
        double[] x = new double[d];
        System.arraycopy(row, offset, x, 0, d);
        double[] rotateHalf = new double[d];
        for (int i = 0; i < d / 2; i++) {
            rotateHalf[i] = -x[i + d / 2];
            rotateHalf[i + d / 2] = x[i];
        }
        for (int i = 0; i < d; i++) {
            double angle = position * invFreq[i % (d / 2)]; // emb = cat(freqs, freqs)
            row[offset + i] = x[i] * Math.cos(angle) + rotateHalf[i] * Math.sin(angle);
        }
    }

    private static double[][] rmsNorm(double[][] x, float[] weight, double eps) {
        double[][] out = new double[x.length][x[0].length];
        for (int t = 0; t < x.length; t++) {
            double meanSquare = 0;
            for (double v : x[t]) {
                meanSquare += v * v;
            }
            meanSquare /= x[t].length;
            double inv = 1.0 / Math.sqrt(meanSquare + eps);
            for (int i = 0; i < x[t].length; i++) {
                out[t][i] = weight[i] * (x[t][i] * inv);
            }
        }
        return out;
    }

    static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    // ---------------------------------------------------------------- GPT-2 (GPT2LMHeadModel)

    private static double[][] gpt2(Gpt2Config c, Weights w, int[] tokens) {
        if (tokens.length > c.maxPositions()) {
            throw new IllegalArgumentException(tokens.length + " tokens exceed n_positions " + c.maxPositions());
        }
        int hidden = c.hiddenSize();
        int inner = c.innerSize();
        double eps = c.layerNormEps();

        // x = wte[token] + wpe[position]
        double[][] x = embed(w.get("wte.weight", (long) c.vocabSize() * hidden), tokens, hidden); // (T, H)
        float[] wpe = w.get("wpe.weight", (long) c.maxPositions() * hidden);
        for (int t = 0; t < tokens.length; t++) {
            for (int i = 0; i < hidden; i++) {
                x[t][i] += wpe[t * hidden + i];
            }
        }
        for (int layer = 0; layer < c.numLayers(); layer++) {
            String p = "h." + layer + ".";
            // x = x + c_proj(attention(split(c_attn(ln_1(x)))))
            double[][] h = layerNorm(x, w.get(p + "ln_1.weight", hidden), w.get(p + "ln_1.bias", hidden), eps);
            double[][] qkv = conv1d(h, w.get(p + "attn.c_attn.weight", (long) hidden * 3 * hidden),
                    w.get(p + "attn.c_attn.bias", 3 * hidden), hidden, 3 * hidden); // (T, 3H)
            double[][] q = columns(qkv, 0, hidden);
            double[][] k = columns(qkv, hidden, hidden);
            double[][] v = columns(qkv, 2 * hidden, hidden);
            double[][] attn = causalAttention(q, k, v, c.numHeads(), c.numHeads(), c.headDim()); // (T, H)
            addInPlace(x, conv1d(attn, w.get(p + "attn.c_proj.weight", (long) hidden * hidden),
                    w.get(p + "attn.c_proj.bias", hidden), hidden, hidden));

            // x = x + c_proj(gelu_new(c_fc(ln_2(x))))
            h = layerNorm(x, w.get(p + "ln_2.weight", hidden), w.get(p + "ln_2.bias", hidden), eps);
            double[][] fc = conv1d(h, w.get(p + "mlp.c_fc.weight", (long) hidden * inner),
                    w.get(p + "mlp.c_fc.bias", inner), hidden, inner); // (T, inner)
            for (double[] row : fc) {
                for (int i = 0; i < inner; i++) {
                    row[i] = geluNew(row[i]);
                }
            }
            addInPlace(x, conv1d(fc, w.get(p + "mlp.c_proj.weight", (long) inner * hidden),
                    w.get(p + "mlp.c_proj.bias", hidden), inner, hidden));
        }
        x = layerNorm(x, w.get("ln_f.weight", hidden), w.get("ln_f.bias", hidden), eps);
        return linear(x, w.get("wte.weight", (long) c.vocabSize() * hidden), c.vocabSize(), hidden); // tied: x·wteᵀ
    }

    /** {@code torch.nn.LayerNorm}: biased variance, eps inside the square root. */
    private static double[][] layerNorm(double[][] x, float[] weight, float[] bias, double eps) {
        double[][] out = new double[x.length][x[0].length];
        for (int t = 0; t < x.length; t++) {
            int n = x[t].length;
            double mean = 0;
            for (double v : x[t]) {
                mean += v;
            }
            mean /= n;
            double var = 0;
            for (double v : x[t]) {
                var += (v - mean) * (v - mean);
            }
            var /= n;
            double inv = 1.0 / Math.sqrt(var + eps);
            for (int i = 0; i < n; i++) {
                out[t][i] = (x[t][i] - mean) * inv * weight[i] + bias[i];
            }
        }
        return out;
    }

    /** HF {@code NewGELUActivation}: the tanh approximation GPT-2 was trained with. */
    static double geluNew(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    // ---------------------------------------------------------------- shared pieces

    /**
     * Causal scaled dot-product attention, {@code softmax(q·kᵀ/√d)·v} over keys 0..t for query t.
     * Query head h reads KV head {@code h / (numHeads / numKvHeads)} (HF {@code repeat_kv}).
     */
    private static double[][] causalAttention(double[][] q, double[][] k, double[][] v, int numHeads, int numKvHeads,
            int headDim) {
        int seq = q.length;
        int group = numHeads / numKvHeads;
        double scale = 1.0 / Math.sqrt(headDim);
        double[][] out = new double[seq][numHeads * headDim];
        for (int h = 0; h < numHeads; h++) {
            int qOff = h * headDim;
            int kvOff = (h / group) * headDim;
            for (int t = 0; t < seq; t++) {
                double[] scores = new double[t + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int s = 0; s <= t; s++) {
                    double dot = 0;
                    for (int i = 0; i < headDim; i++) {
                        dot += q[t][qOff + i] * k[s][kvOff + i];
                    }
                    scores[s] = dot * scale;
                    max = Math.max(max, scores[s]);
                }
                double sum = 0;
                for (int s = 0; s <= t; s++) {
                    scores[s] = Math.exp(scores[s] - max);
                    sum += scores[s];
                }
                for (int s = 0; s <= t; s++) {
                    double p = scores[s] / sum;
                    for (int i = 0; i < headDim; i++) {
                        out[t][qOff + i] += p * v[s][kvOff + i];
                    }
                }
            }
        }
        return out;
    }

    private static double[][] embed(float[] table, int[] tokens, int hidden) {
        double[][] x = new double[tokens.length][hidden];
        for (int t = 0; t < tokens.length; t++) {
            for (int i = 0; i < hidden; i++) {
                x[t][i] = table[tokens[t] * hidden + i];
            }
        }
        return x;
    }

    /** {@code torch.nn.Linear} without bias: weight stored (out, in), y = x·Wᵀ. */
    private static double[][] linear(double[][] x, float[] weight, int out, int in) {
        double[][] y = new double[x.length][out];
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < out; o++) {
                double sum = 0;
                for (int i = 0; i < in; i++) {
                    sum += x[t][i] * weight[o * in + i];
                }
                y[t][o] = sum;
            }
        }
        return y;
    }

    /** HF GPT-2 {@code Conv1D}: weight stored (in, out), y = x·W + b. */
    private static double[][] conv1d(double[][] x, float[] weight, float[] bias, int in, int out) {
        double[][] y = new double[x.length][out];
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < out; o++) {
                double sum = bias[o];
                for (int i = 0; i < in; i++) {
                    sum += x[t][i] * weight[i * out + o];
                }
                y[t][o] = sum;
            }
        }
        return y;
    }

    private static void addBias(double[][] x, float[] bias) {
        for (double[] row : x) {
            for (int i = 0; i < row.length; i++) {
                row[i] += bias[i];
            }
        }
    }

    private static void addInPlace(double[][] x, double[][] delta) {
        for (int t = 0; t < x.length; t++) {
            for (int i = 0; i < x[t].length; i++) {
                x[t][i] += delta[t][i];
            }
        }
    }

    private static double[][] columns(double[][] x, int from, int count) {
        double[][] out = new double[x.length][count];
        for (int t = 0; t < x.length; t++) {
            System.arraycopy(x[t], from, out[t], 0, count);
        }
        return out;
    }

    /** Tensors by HF name; GPT-2 names may carry the {@code transformer.} prefix of newer saves. */
    private record Weights(Map<String, float[]> byName) {
        float[] get(String name, long expectedSize) {
            float[] w = byName.get(name);
            if (w == null) {
                w = byName.get("transformer." + name);
            }
            if (w == null) {
                throw new IllegalArgumentException("missing tensor " + name);
            }
            if (w.length != expectedSize) {
                throw new IllegalArgumentException(name + " has " + w.length + " values, expected " + expectedSize);
            }
            return w;
        }
    }
}
