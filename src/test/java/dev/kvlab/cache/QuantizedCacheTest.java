package dev.kvlab.cache;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code full} cache stored as int8 against the same cache unquantized: its bytes are its tensors'
 * sizes and below a third of f32, the exact window holds the newest slots, the logits stay close, and
 * greedy decoding on the shipped model picks the same tokens; slots a policy keeps keep their codes.
 */
class QuantizedCacheTest {
    /** Largest |Δ logit| allowed for int8 (groups of 8, a window of 16) on the random fixture; 0.027 measured. */
    private static final float FIXTURE_TOLERANCE = 0.05f;

    @TempDir
    Path dir;

    @Test
    void int8FullCacheStaysCloseToFullOnTheFixtureWithExactBytes() {
        try (TransformerModel model = ModelLoader.load(TinyModels.llama().writeTo(dir.resolve("llama")).dir(),
                new ModelLoader.Options("cpu", null))) {
            int[] tokens = new Random(3).ints(120, 0, model.config().vocabSize()).toArray();
            Quantization int8 = new Quantization(8, 8, 16);
            float[][] full = logits(model, new FullPolicy(), tokens, null);
            float[][] quantized = logits(model, new FullPolicy(int8), tokens, cache -> {
                long real = 0;
                for (int l = 0; l < cache.layerCount(); l++) {
                    for (NDArray t : cache.layer(l).storedTensors()) {
                        real += t.size() * t.getDataType().getNumOfBytes();
                    }
                }
                assertThat(cache.bytes()).isEqualTo(real);
                assertThat(cache.stats().fullCacheBytes()).isEqualTo(cache.spec().fullBytes(cache.seenTokens()));
            });
            float worst = 0;
            for (int t = 0; t < full.length; t++) {
                for (int v = 0; v < full[t].length; v++) {
                    worst = Math.max(worst, Math.abs(full[t][v] - quantized[t][v]));
                }
            }
            assertThat(worst).isGreaterThan(0f).isLessThanOrEqualTo(FIXTURE_TOLERANCE);
        }
    }

    @Test
    void int8GreedyTokensMatchFullOnTheShippedModel() {
        Path shipped = Path.of("models/kvlab-tiny");
        Assumptions.assumeTrue(Files.isDirectory(shipped), "the shipped model is not checked out");
        try (TransformerModel model = ModelLoader.load(shipped, new ModelLoader.Options("cpu", null))) {
            int[] prompt = new Random(5).ints(48, 2, model.config().vocabSize()).toArray();
            int[] full = greedy(model, new FullPolicy(), prompt, 24);
            int[] int8 = greedy(model, new FullPolicy(new Quantization(8, 32, 32)), prompt, 24);
            assertThat(int8).isEqualTo(full);
        }
    }

    @Test
    void slotsKeptThroughManyEvictionsReadBackUnchanged() {
        KvSpec spec = new KvSpec(1, 2, 16, ai.djl.ndarray.types.DataType.FLOAT32);
        try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager()) {
            LayerCache layer = new LayerCache(spec, manager, 0, new Quantization(8, 8, 2), false);
            Random random = new Random(11);
            for (int t = 0; t < 40; t++) { // slots 0..31 leave the window at the 34th
                layer.append(randomToken(manager, spec, random), randomToken(manager, spec, random), t);
            }
            float[] before = null;
            for (int step = 0; step < 200; step++) { // a token arrives, the newest one goes again
                layer.append(randomToken(manager, spec, random), randomToken(manager, spec, random), 40 + step);
                int[] keep = java.util.stream.IntStream.range(0, 40).toArray();
                layer.compact(CompactionPlan.dropOnly(new int[][] {keep, keep}));
                if (step == 0) { // slots 0..31 quantized, the rest exact: none of them is quantized again
                    before = layer.keys().toFloatArray();
                }
            }
            assertThat(layer.keys().toFloatArray()).isEqualTo(before);
            assertThat(layer.bytes()).isEqualTo(tensorBytes(layer)).isLessThan(spec.layerBytes(40, new Quantization(8, 8, 2)) + 1);
            layer.close();
        }
    }

    @Test
    void anyRangeOfSlotsReadsBackAsTheSameSlotsOfTheWholeLayer() {
        KvSpec spec = new KvSpec(1, 2, 16, ai.djl.ndarray.types.DataType.FLOAT32);
        for (int bits : new int[] {8, 4}) {
            try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager()) {
                LayerCache layer = new LayerCache(spec, manager, 0, new Quantization(bits, 8, 4), false);
                Random random = new Random(bits);
                for (int t = 0; t < 45; t++) { // codes for the oldest, the window for the newest
                    layer.append(randomToken(manager, spec, random), randomToken(manager, spec, random), t);
                }
                NDArray keys = layer.keys();
                NDArray values = layer.values();
                assertThat(layer.blockEnd(0, 1)).as("codes end a block").isEqualTo(32);
                assertThat(layer.blockEnd(32, 1)).isEqualTo(45);
                int[][] ranges = {{0, 45}, {0, 10}, {10, 33}, {30, 45}, {40, 45}, {44, 45}};
                for (int[] r : ranges) {
                    assertThat(layer.keys(r[0], r[1]).eq(keys.get(":, {}:{}", r[0], r[1])).all().getBoolean())
                            .as("int%d keys %d..%d", bits, r[0], r[1]).isTrue();
                    assertThat(layer.values(r[0], r[1]).eq(values.get(":, {}:{}", r[0], r[1])).all().getBoolean())
                            .as("int%d values %d..%d", bits, r[0], r[1]).isTrue();
                }
                layer.close();
            }
        }
    }

    /** A GPU caches f16: int8 with the default groups stores a slot-head in 36 bytes against 64. */
    @Test
    void int8OfAnF16CacheTakesUnderSixTenthsOfItsBytes() {
        KvSpec spec = new KvSpec(1, 2, 32, ai.djl.ndarray.types.DataType.FLOAT16);
        try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager()) {
            LayerCache layer = new LayerCache(spec, manager, 0, new Quantization(8, 32, 32), false);
            Random random = new Random(3);
            for (int t = 0; t < 1000; t += 100) {
                NDArray keys = manager.randomNormal(new ai.djl.ndarray.types.Shape(2, 100, 32))
                        .toType(ai.djl.ndarray.types.DataType.FLOAT16, false);
                layer.append(keys, keys.mul(random.nextFloat()), t);
            }
            assertThat(layer.bytes()).isEqualTo(tensorBytes(layer));
            assertThat((double) layer.bytes() / spec.layerBytes(1000)).isLessThan(0.6);
            layer.close();
        }
    }

    /** The sizes of the tensors that hold a layer's stored slots, summed. */
    private static long tensorBytes(LayerCache layer) {
        long bytes = 0;
        for (NDArray t : layer.storedTensors()) {
            bytes += t.size() * t.getDataType().getNumOfBytes();
        }
        return bytes;
    }

    private static NDArray randomToken(ai.djl.ndarray.NDManager manager, KvSpec spec, Random random) {
        float[] x = new float[spec.kvHeads() * spec.headDim()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return manager.create(x, new ai.djl.ndarray.types.Shape(spec.kvHeads(), 1, spec.headDim()));
    }

    /** Feeds {@code tokens} one at a time; returns each position's logits. */
    private static float[][] logits(TransformerModel model, dev.kvlab.cache.policy.CachePolicy policy, int[] tokens,
            java.util.function.Consumer<KvCache> check) {
        float[][] out = new float[tokens.length][];
        try (KvCache cache = model.newCache(policy, 1)) {
            for (int t = 0; t < tokens.length; t++) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    out[t] = model.forward(new int[] {tokens[t]}, cache, false).toFloatArray();
                }
                if (check != null) {
                    check.accept(cache);
                }
            }
        }
        return out;
    }

    /** The prompt in one pass, then {@code steps} greedy tokens. */
    private static int[] greedy(TransformerModel model, dev.kvlab.cache.policy.CachePolicy policy, int[] prompt,
            int steps) {
        int[] picked = new int[steps];
        try (KvCache cache = model.newCache(policy, prompt.length)) {
            int[] input = prompt;
            for (int s = 0; s < steps; s++) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    float[] logits = model.forward(input, cache, false).toFloatArray();
                    picked[s] = argmax(logits);
                }
                input = new int[] {picked[s]};
            }
        }
        return picked;
    }

    private static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }
}
