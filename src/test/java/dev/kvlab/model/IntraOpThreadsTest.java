package dev.kvlab.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A CPU model prefills with PyTorch's configured thread count and decodes with its own, per calling
 * thread, and the thread count does not change what it computes.
 */
class IntraOpThreadsTest {
    @TempDir
    static Path dir;

    private static AbstractDecoder model;

    @BeforeAll
    static void load() {
        model = (AbstractDecoder) ModelLoader.load(TinyModels.llama().writeTo(dir.resolve("llama")).dir(),
                new ModelLoader.Options("cpu", null));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** Runs a pass on the calling thread and returns PyTorch's thread count for it afterwards. */
    private static int threadsAfter(KvCache cache, int[] tokens) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            model.forward(tokens, cache, false).toFloatArray();
        }
        return JniUtils.getNumThreads();
    }

    @Test
    void prefillAndDecodeEachGetTheirCountOnTheCallingThreadOnly() throws Exception {
        IntraOpThreads previous = model.threads();
        model.setThreads(new IntraOpThreads(2, 1));
        try (KvCache cache = model.newCache(new FullPolicy(), 8)) {
            assertThat(threadsAfter(cache, new int[] {3, 4, 5})).isEqualTo(2);
            assertThat(threadsAfter(cache, new int[] {6})).isEqualTo(1);
            // another thread prefilling meanwhile does not change this thread's decode setting
            int other = CompletableFuture.supplyAsync(() -> {
                try (KvCache c = model.newCache(new FullPolicy(), 8)) {
                    return threadsAfter(c, new int[] {1, 2, 3});
                }
            }).get();
            assertThat(other).isEqualTo(2);
            assertThat(JniUtils.getNumThreads()).isEqualTo(1);
            assertThat(threadsAfter(cache, new int[] {7, 8})).isEqualTo(2);
        } finally {
            model.setThreads(previous);
        }
    }

    @Test
    void decodingWithOneThreadOrTwoGivesTheSameLogits() {
        IntraOpThreads previous = model.threads();
        try {
            float[] one = decodeLogits(new IntraOpThreads(2, 1));
            float[] two = decodeLogits(new IntraOpThreads(2, 2));
            float worst = 0;
            for (int i = 0; i < one.length; i++) {
                worst = Math.max(worst, Math.abs(one[i] - two[i]));
            }
            assertThat(worst).isLessThan(1e-4f);
        } finally {
            model.setThreads(previous);
        }
    }

    private static float[] decodeLogits(IntraOpThreads threads) {
        model.setThreads(threads);
        try (KvCache cache = model.newCache(new FullPolicy(), 16); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            model.forward(new int[] {1, 9, 4, 7, 2, 8, 3, 5, 6, 10}, cache, false);
            return model.forward(new int[] {11}, cache, false).toFloatArray();
        }
    }

    @Test
    void loaderDefaultsToOneDecodeThreadAndZeroMeansAsPrefill() {
        Path tiny = TinyModels.llama().writeTo(dir.resolve("defaults")).dir();
        try (TransformerModel one = ModelLoader.load(tiny, new ModelLoader.Options("cpu", null));
                TransformerModel same = ModelLoader.load(tiny, new ModelLoader.Options("cpu", null, 0))) {
            assertThat(((AbstractDecoder) one).threads().decode()).isEqualTo(1);
            IntraOpThreads asPrefill = ((AbstractDecoder) same).threads();
            assertThat(asPrefill.decode()).isEqualTo(asPrefill.prefill()).isEqualTo(JniUtils.getNumThreads());
        }
        assertThatThrownBy(() -> ModelLoader.load(tiny, new ModelLoader.Options("cpu", null, -1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("decode threads");
    }
}
