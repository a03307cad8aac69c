package dev.kvlab.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.testing.TinyModel;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Decode rows attend in groups of caches of similar length, so that stacking pads no cache to more
 * than twice its length (what the memory budget allows a decode step) and copies no buffer to pad it;
 * a batch cut into several groups gives every sequence the logits it gets alone.
 */
class DecodeGroupsTest {

    @TempDir
    static Path dir;

    @Test
    void cachesOfSimilarLengthGroupAndEverySequenceGetsItsOwnLogits() {
        TinyModel tiny = TinyModels.llama().writeTo(dir.resolve("tiny"));
        List<KvCache> caches = new ArrayList<>();
        try (TransformerModel model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null))) {
            int[] lengths = {40, 36, 12, 11, 3};
            List<SequenceInput> inputs = new ArrayList<>();
            for (int length : lengths) {
                KvCache cache = model.newCache(new FullPolicy(), 64);
                caches.add(cache);
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    model.forward(IntStream.range(0, length).map(i -> (i * 7 + length) % 50).toArray(), cache, false);
                    model.forward(new int[] {5}, cache, false); // the first decode step grows each buffer
                }
                inputs.add(new SequenceInput(cache, new int[] {length % 50}, false));
            }
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                ForwardPass planned = new ForwardPass(inputs, model.config().numLayers());
                // 42 and 38 slots with the new token; 14 and 13; 5 alone (42 > 2 · 14, 14 > 2 · 5)
                assertThat(CachedAttention.plan(planned, null).groups()).containsExactly(2, 2, 1);

                ForwardPass batched = model.forward(inputs);
                float[][] together = new float[lengths.length][];
                for (int s = 0; s < lengths.length; s++) {
                    together[s] = batched.lastLogits(s);
                }
                batched.discardRest();
                for (int s = 0; s < lengths.length; s++) {
                    ForwardPass alone = model.forward(List.of(inputs.get(s)));
                    float[] expected = alone.lastLogits(0);
                    alone.discardRest();
                    for (int v = 0; v < expected.length; v++) {
                        assertThat(together[s][v]).as("sequence %d, logit %d", s, v)
                                .isCloseTo(expected[v], within(1e-4f));
                    }
                }
            }
        } finally {
            caches.forEach(KvCache::close);
        }
    }

    @Test
    void aBufferTooShortForTheGroupGrowsToJoinIt() {
        TinyModel tiny = TinyModels.llama().writeTo(dir.resolve("tiny-grow"));
        List<KvCache> caches = new ArrayList<>();
        try (TransformerModel model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null));
                NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            List<SequenceInput> inputs = new ArrayList<>();
            for (int length : new int[] {20, 15}) { // buffers of 20 and 16 slots: the second is not full
                KvCache cache = model.newCache(new FullPolicy(), 64);
                cache.limitSlots(length + 30);
                caches.add(cache);
                model.forward(IntStream.range(0, length).map(i -> (i * 3 + 1) % 50).toArray(), cache, false);
                inputs.add(new SequenceInput(cache, new int[] {7}, false));
            }
            ForwardPass planned = new ForwardPass(inputs, model.config().numLayers());
            // 21 slots wide: the 16-slot buffer grows for the group, within its request's 45 slots
            assertThat(CachedAttention.plan(planned, null).groups()).containsExactly(2);
            assertThat(caches.get(1).layer(0).slotCapacity()).isBetween(21, 45);
        } finally {
            caches.forEach(KvCache::close);
        }
    }
}
