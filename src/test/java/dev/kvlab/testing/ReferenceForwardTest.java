package dev.kvlab.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvlab.model.llama.LlamaConfig;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReferenceForwardTest {
    private static final int[] TOKENS = {TinyModels.BOS_ID, 116, 104, 101, 32, 99, 97, 116, 257, 46, 10, 200};

    @TempDir Path dir;

    @Test
    void llamaLogitsAreFiniteDeterministicAndFarFromUniform() {
        TinyModel m = TinyModels.llama().writeTo(dir.resolve("a"));
        float[][] logits = ReferenceForward.logits(m, TOKENS);
        assertEquals(TOKENS.length, logits.length);
        assertEquals(TinyModels.VOCAB_SIZE, logits[0].length);
        for (float[] row : logits) {
            for (float v : row) {
                assertTrue(Float.isFinite(v));
            }
            assertTrue(std(row) > 0.5, "logit std " + std(row)); // a real top token, not noise around a constant
        }
        assertTrue(Arrays.deepEquals(logits, ReferenceForward.logits(TinyModels.llama().writeTo(dir.resolve("b")), TOKENS)));
        assertFalse(Arrays.deepEquals(logits, ReferenceForward.logits(TinyModels.llama().seed(7).writeTo(dir.resolve("c")), TOKENS)));
    }

    @Test
    void laterTokensDoNotChangeEarlierLogits() {
        for (TinyModel m : new TinyModel[] {TinyModels.llama().writeTo(dir.resolve("l")), TinyModels.gpt2().writeTo(dir.resolve("g"))}) {
            int[] changed = TOKENS.clone();
            changed[8] = 65;
            float[][] a = ReferenceForward.logits(m, TOKENS);
            float[][] b = ReferenceForward.logits(m, changed);
            for (int t = 0; t < 8; t++) {
                assertArrayEquals(a[t], b[t], 0f, "position " + t);
            }
            for (int t = 8; t < TOKENS.length; t++) {
                assertFalse(Arrays.equals(a[t], b[t]), "position " + t + " must see the changed token");
            }
        }
    }

    @Test
    void groupedQueryAttentionEqualsMultiHeadWithEachKvHeadRepeated() {
        TinyModel gqa = TinyModels.llama().kvHeads(2).writeTo(dir);
        LlamaConfig c = (LlamaConfig) gqa.config();
        LlamaConfig mhaConfig = new LlamaConfig(c.vocabSize(), c.hiddenSize(), c.intermediateSize(), c.numLayers(),
                c.numHeads(), c.numHeads(), 0, c.maxPositions(), c.rmsNormEps(), c.ropeTheta(), null, false, false);
        Map<String, float[]> mha = new HashMap<>(gqa.weights());
        int rowsPerHead = c.headDim() * c.hiddenSize();
        int group = c.numHeads() / c.numKvHeads();
        for (int layer = 0; layer < c.numLayers(); layer++) {
            for (String proj : new String[] {"k_proj", "v_proj"}) {
                String name = "model.layers." + layer + ".self_attn." + proj + ".weight";
                float[] kv = gqa.weight(name);
                float[] repeated = new float[c.numHeads() * rowsPerHead];
                for (int h = 0; h < c.numHeads(); h++) { // query head h reads kv head h / group
                    System.arraycopy(kv, (h / group) * rowsPerHead, repeated, h * rowsPerHead, rowsPerHead);
                }
                mha.put(name, repeated);
            }
        }
        assertLogitsClose(ReferenceForward.logits(gqa, TOKENS), ReferenceForward.logits(mhaConfig, mha, TOKENS), 1e-5f);
    }

    @Test
    void withoutAttentionAndMlpLogitsAreLmHeadOfNormalizedEmbedding() {
        for (boolean tied : new boolean[] {false, true}) {
            TinyModel m = TinyModels.llama().layers(1).tieWordEmbeddings(tied).writeTo(dir.resolve("t" + tied));
            Map<String, float[]> w = zeroed(m.weights(), "self_attn.", "mlp.");
            LlamaConfig c = (LlamaConfig) m.config();
            int hidden = c.hiddenSize();
            float[] embed = w.get("model.embed_tokens.weight");
            float[] head = w.get(tied ? "model.embed_tokens.weight" : "lm_head.weight");
            float[] norm = w.get("model.norm.weight");
            float[][] logits = ReferenceForward.logits(c, w, TOKENS);
            for (int t = 0; t < TOKENS.length; t++) {
                double[] x = new double[hidden];
                double sumSq = 0;
                for (int i = 0; i < hidden; i++) {
                    x[i] = embed[TOKENS[t] * hidden + i];
                    sumSq += x[i] * x[i];
                }
                double rms = Math.sqrt(sumSq / hidden + c.rmsNormEps());
                for (int v = 0; v < c.vocabSize(); v++) {
                    double expected = 0;
                    for (int i = 0; i < hidden; i++) {
                        expected += head[v * hidden + i] * norm[i] * x[i] / rms;
                    }
                    assertEquals(expected, logits[t][v], 1e-5, "t=" + t + " v=" + v);
                }
            }
        }
    }

    @Test
    void zeroBiasQwenEqualsLlamaAndRealBiasChangesLogits() {
        TinyModel qwen = TinyModels.llama().attentionBias(true).writeTo(dir);
        LlamaConfig c = (LlamaConfig) qwen.config();
        LlamaConfig noBias = new LlamaConfig(c.vocabSize(), c.hiddenSize(), c.intermediateSize(), c.numLayers(),
                c.numHeads(), c.numKvHeads(), 0, c.maxPositions(), c.rmsNormEps(), c.ropeTheta(), null, false, false);
        Map<String, float[]> zeroBias = zeroed(qwen.weights(), "_proj.bias");
        assertTrue(Arrays.deepEquals(ReferenceForward.logits(c, zeroBias, TOKENS),
                ReferenceForward.logits(noBias, zeroBias, TOKENS)));
        assertFalse(Arrays.deepEquals(ReferenceForward.logits(qwen, TOKENS), ReferenceForward.logits(c, zeroBias, TOKENS)));
    }

    @Test
    void untiedWithLmHeadEqualToEmbeddingEqualsTied() {
        TinyModel tied = TinyModels.llama().tieWordEmbeddings(true).writeTo(dir);
        LlamaConfig c = (LlamaConfig) tied.config();
        LlamaConfig untied = new LlamaConfig(c.vocabSize(), c.hiddenSize(), c.intermediateSize(), c.numLayers(),
                c.numHeads(), c.numKvHeads(), 0, c.maxPositions(), c.rmsNormEps(), c.ropeTheta(), null, false, false);
        Map<String, float[]> w = new HashMap<>(tied.weights());
        w.put("lm_head.weight", tied.weight("model.embed_tokens.weight"));
        assertTrue(Arrays.deepEquals(ReferenceForward.logits(tied, TOKENS), ReferenceForward.logits(untied, w, TOKENS)));
    }

    @Test
    void ropeRotatesDimensionIWithIPlusHalfNotItsNeighbour() {
        double[] invFreq = {1.0, 0.1, 0.01, 0.001};
        double[] e0 = new double[8];
        e0[0] = 1;
        double[] r = ReferenceForward.applyRope(e0, 1, invFreq);
        assertEquals(Math.cos(1.0), r[0], 1e-12);
        assertEquals(Math.sin(1.0), r[4], 1e-12); // rotate_half pairs 0 with d/2
        assertEquals(0.0, r[1], 0.0); // GPT-J interleaving would put sin(1) here
        double[] e5 = new double[8];
        e5[5] = 1;
        r = ReferenceForward.applyRope(e5, 3, invFreq);
        assertEquals(-Math.sin(0.3), r[1], 1e-12);
        assertEquals(Math.cos(0.3), r[5], 1e-12);
    }

    @Test
    void ropeAttentionScoresDependOnlyOnRelativePosition() {
        LlamaConfig c = (LlamaConfig) TinyModels.llama().ropeScaling(TinyModels.llama3Scaling()).config();
        double[] invFreq = ReferenceForward.ropeInverseFrequencies(c);
        double[] q = new double[c.headDim()];
        double[] k = new double[c.headDim()];
        for (int i = 0; i < q.length; i++) {
            q[i] = Math.sin(i + 1);
            k[i] = Math.cos(3 * i);
        }
        double score = dot(ReferenceForward.applyRope(q, 9, invFreq), ReferenceForward.applyRope(k, 4, invFreq));
        assertEquals(score, dot(ReferenceForward.applyRope(q, 105, invFreq), ReferenceForward.applyRope(k, 100, invFreq)), 1e-9);
        assertNotEquals(score, dot(ReferenceForward.applyRope(q, 9, invFreq), ReferenceForward.applyRope(k, 5, invFreq)), 1e-6);
        assertEquals(Math.sqrt(dot(q, q)), Math.sqrt(dot(ReferenceForward.applyRope(q, 77, invFreq), ReferenceForward.applyRope(q, 77, invFreq))), 1e-12);
    }

    @Test
    void llama3ScalingKeepsHighDividesLowAndInterpolatesMiddleFrequencies() {
        // head dim 16, theta 1e4, original context 64: wavelengths 2π·10^(i/2) = 6.3 | 19.9, 62.8 | 199 … against 16 and 64
        LlamaConfig c = (LlamaConfig) TinyModels.llama().ropeScaling(TinyModels.llama3Scaling()).config();
        double[] scaled = ReferenceForward.ropeInverseFrequencies(c);
        assertEquals(8, scaled.length);
        assertEquals(1.0, scaled[0], 1e-15); // wavelength 6.3 < 64/4: kept
        for (int i = 3; i < 8; i++) {
            assertEquals(Math.pow(10000, -i / 8.0) / 8, scaled[i], 1e-15, "band " + i); // > 64: ÷ factor
        }
        double inv1 = Math.pow(10000, -1 / 8.0);
        double smooth = (64 / (2 * Math.PI / inv1) - 1) / (4 - 1);
        assertEquals((1 - smooth) * inv1 / 8 + smooth * inv1, scaled[1], 1e-15);
        assertTrue(scaled[2] < Math.pow(10000, -2 / 8.0) && scaled[2] > Math.pow(10000, -2 / 8.0) / 8);

        TinyModel plain = TinyModels.llama().writeTo(dir.resolve("plain"));
        TinyModel llama3 = TinyModels.llama().ropeScaling(TinyModels.llama3Scaling()).writeTo(dir.resolve("llama3"));
        float[][] a = ReferenceForward.logits(plain, TOKENS);
        float[][] b = ReferenceForward.logits(llama3, TOKENS);
        assertArrayEquals(a[0], b[0], 0f); // position 0 is not rotated
        assertFalse(Arrays.equals(a[5], b[5]));
    }

    @Test
    void gpt2WithoutBlocksIsLayerNormOfTokenPlusPositionTimesWte() {
        TinyModel m = TinyModels.gpt2().layers(1).writeTo(dir);
        Map<String, float[]> w = zeroed(m.weights(), "attn.", "mlp.");
        int hidden = m.config().hiddenSize();
        float[] wte = w.get("wte.weight");
        float[] wpe = w.get("wpe.weight");
        float[][] logits = ReferenceForward.logits(m.config(), w, TOKENS);
        for (int t = 0; t < TOKENS.length; t++) {
            double[] x = new double[hidden];
            for (int i = 0; i < hidden; i++) {
                x[i] = wte[TOKENS[t] * hidden + i] + wpe[t * hidden + i];
            }
            double mean = Arrays.stream(x).average().orElseThrow();
            double var = Arrays.stream(x).map(v -> (v - mean) * (v - mean)).sum() / hidden; // biased, as torch
            for (int v = 0; v < m.config().vocabSize(); v++) {
                double expected = 0;
                for (int i = 0; i < hidden; i++) {
                    double ln = (x[i] - mean) / Math.sqrt(var + 1e-5) * w.get("ln_f.weight")[i] + w.get("ln_f.bias")[i];
                    expected += ln * wte[v * hidden + i];
                }
                assertEquals(expected, logits[t][v], 1e-5);
            }
        }
    }

    @Test
    void gpt2NamesWithTransformerPrefixGiveTheSameLogits() {
        float[][] plain = ReferenceForward.logits(TinyModels.gpt2().writeTo(dir.resolve("a")), TOKENS);
        TinyModel prefixed = TinyModels.gpt2().transformerPrefix(true).writeTo(dir.resolve("b"));
        assertTrue(prefixed.weights().containsKey("transformer.h.0.attn.c_attn.weight"));
        assertTrue(Arrays.deepEquals(plain, ReferenceForward.logits(prefixed, TOKENS)));
    }

    @Test
    void gpt2CannotRunPastNPositionsAndTokensMustBeInVocab() {
        TinyModel m = TinyModels.gpt2().writeTo(dir);
        assertEquals(128, ReferenceForward.logits(m, new int[128]).length);
        assertThrows(IllegalArgumentException.class, () -> ReferenceForward.logits(m, new int[129]));
        assertThrows(IllegalArgumentException.class, () -> ReferenceForward.logits(m, new int[] {TinyModels.VOCAB_SIZE}));
    }

    @Test
    void activationsMatchPublishedValues() {
        assertEquals(0.8411919906082768, ReferenceForward.geluNew(1.0), 1e-12); // NewGELUActivation()(1.0)
        assertEquals(-0.15880800939172324, ReferenceForward.geluNew(-1.0), 1e-12);
        assertEquals(0.7310585786300049, ReferenceForward.silu(1.0), 1e-15); // 1 / (1 + e^-1)
    }

    private static Map<String, float[]> zeroed(Map<String, float[]> weights, String... containing) {
        Map<String, float[]> out = new HashMap<>(weights);
        out.replaceAll((name, w) -> Arrays.stream(containing).anyMatch(name::contains) ? new float[w.length] : w);
        assertNotEquals(weights, out, "nothing was zeroed");
        return out;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static double std(float[] row) {
        double mean = 0;
        for (float v : row) {
            mean += v;
        }
        mean /= row.length;
        double var = 0;
        for (float v : row) {
            var += (v - mean) * (v - mean);
        }
        return Math.sqrt(var / row.length);
    }

    private static void assertLogitsClose(float[][] expected, float[][] actual, float tolerance) {
        assertEquals(expected.length, actual.length);
        for (int t = 0; t < expected.length; t++) {
            assertArrayEquals(expected[t], actual[t], tolerance, "position " + t);
        }
    }
}
