package dev.kvlab.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.ReadBlocks;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.model.weights.SafetensorsWriter;
import dev.kvlab.testing.ReferenceForward;
import dev.kvlab.testing.TinyModel;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The heart of the foundation: the DJL forward pass must give the logits of an independent
 * plain-Java reference written from the Hugging Face equations, for every architecture variant, and
 * incremental decoding through the cache must give the logits of one full forward. F16 and BF16
 * checkpoints are decoded in Java to f32 values the reference also sees (the fixture rounds its
 * weights to the storage dtype), so they are held to the same tolerance.
 */
class ForwardPassCorrectnessTest {
    private static final float TOLERANCE = 1e-4f;

    @TempDir
    static Path dir;

    static Stream<Arguments> variants() {
        return Stream.of(
                Arguments.of("llama-gqa-untied", TinyModels.llama().kvHeads(2).tieWordEmbeddings(false)),
                Arguments.of("llama-mha-tied", TinyModels.llama().kvHeads(4).tieWordEmbeddings(true)),
                Arguments.of("qwen2-bias", TinyModels.llama().attentionBias(true)),
                Arguments.of("llama3-rope-scaling", TinyModels.llama().headDim(16).ropeScaling(TinyModels.llama3Scaling())),
                Arguments.of("llama-sharded", TinyModels.llama().sharded(true).seed(7)),
                Arguments.of("llama-bf16", TinyModels.llama().dtype(SafetensorsWriter.Dtype.BF16).seed(5)),
                Arguments.of("gpt2", TinyModels.gpt2()),
                Arguments.of("gpt2-f16", TinyModels.gpt2().dtype(SafetensorsWriter.Dtype.F16).seed(9)),
                Arguments.of("gpt2-transformer-prefix", TinyModels.gpt2().transformerPrefix(true).seed(3)));
    }

    private static int[] randomTokens(int count, int vocab, long seed) {
        Random random = new Random(seed);
        return random.ints(count, 0, vocab).toArray();
    }

    private static float[][] djlLogits(TransformerModel model, int[]... chunks) {
        try (KvCache cache = model.newCache(new FullPolicy(), 64)) {
            float[][] rows = new float[Arrays.stream(chunks).mapToInt(c -> c.length).sum()][];
            int row = 0;
            for (int[] chunk : chunks) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    NDArray logits = model.forward(chunk, cache, true);
                    assertEquals(DataType.FLOAT32, logits.getDataType());
                    int vocab = (int) logits.getShape().get(1);
                    float[] flat = logits.toFloatArray();
                    for (int t = 0; t < chunk.length; t++) {
                        rows[row++] = Arrays.copyOfRange(flat, t * vocab, (t + 1) * vocab);
                    }
                }
            }
            assertEquals(rows.length, cache.seenTokens());
            return rows;
        }
    }

    private static void assertClose(float[][] expected, float[][] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": rows");
        float worst = 0;
        for (int t = 0; t < expected.length; t++) {
            for (int v = 0; v < expected[t].length; v++) {
                worst = Math.max(worst, Math.abs(expected[t][v] - actual[t][v]));
            }
        }
        assertTrue(worst <= TOLERANCE, what + ": max |Δlogit| = " + worst);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void fullForwardMatchesPlainJavaReference(String name, TinyModels.Builder builder) {
        TinyModel tiny = builder.writeTo(dir.resolve(name));
        int[] tokens = randomTokens(37, tiny.config().vocabSize(), name.hashCode());
        try (TransformerModel model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null))) {
            float[][] expected = ReferenceForward.logits(tiny, tokens);
            assertClose(expected, djlLogits(model, tokens), name);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void chunkedPrefillThenDecodeMatchesOneFullForward(String name, TinyModels.Builder builder) {
        TinyModel tiny = builder.writeTo(dir.resolve(name + "-inc"));
        int[] tokens = randomTokens(40, tiny.config().vocabSize(), 11);
        try (TransformerModel model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null))) {
            float[][] full = djlLogits(model, tokens);
            // prefill in uneven chunks (7, 5, 16), then one token at a time
            int[][] chunks = new int[3 + 12][];
            chunks[0] = Arrays.copyOfRange(tokens, 0, 7);
            chunks[1] = Arrays.copyOfRange(tokens, 7, 12);
            chunks[2] = Arrays.copyOfRange(tokens, 12, 28);
            for (int i = 0; i < 12; i++) {
                chunks[3 + i] = new int[] {tokens[28 + i]};
            }
            assertClose(full, djlLogits(model, chunks), name + " incremental");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void lastPositionOnlyEqualsLastRowOfAllPositions(String name, TinyModels.Builder builder) {
        TinyModel tiny = builder.writeTo(dir.resolve(name + "-last"));
        int[] tokens = randomTokens(9, tiny.config().vocabSize(), 5);
        try (TransformerModel model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null));
                KvCache cache = model.newCache(new FullPolicy(), 64);
                NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray last = model.forward(tokens, cache, false);
            assertArrayEquals(new long[] {1, tiny.config().vocabSize()}, last.getShape().getShape());
            float[][] all = djlLogits(model, tokens);
            assertArrayEquals(all[8], last.toFloatArray(), TOLERANCE);
        }
    }

    /**
     * Past {@link ReadBlocks#READ_BLOCK} slots a policy that does not read the probabilities attends
     * block by block; the logits must stay the reference's, for a chunk that crosses the block edge
     * and for single tokens after it.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("longContexts")
    void attentionInBlocksPastTheReadBlockMatchesTheReference(String name, TinyModels.Builder builder) {
        int length = ReadBlocks.READ_BLOCK + 56; // 1020 in 6 chunks, 40 across the edge, 20 single tokens
        TinyModel tiny = builder.maxPositions(length).writeTo(dir.resolve(name + "-long"));
        int[] tokens = randomTokens(length, tiny.config().vocabSize(), 17);
        int[][] chunks = new int[7 + 20][];
        int from = 0;
        for (int i = 0; i < 7; i++) {
            int size = i < 6 ? 170 : 40;
            chunks[i] = Arrays.copyOfRange(tokens, from, from + size);
            from += size;
        }
        for (int i = 0; i < 20; i++) {
            chunks[7 + i] = new int[] {tokens[from++]};
        }
        try (TransformerModel model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null))) {
            float[][] expected = ReferenceForward.logits(tiny, tokens);
            assertClose(expected, djlLogits(model, chunks), name + " in blocks");
        }
    }

    static Stream<Arguments> longContexts() {
        return Stream.of(Arguments.of("llama-gqa", TinyModels.llama().kvHeads(2)),
                Arguments.of("gpt2", TinyModels.gpt2()));
    }
}
