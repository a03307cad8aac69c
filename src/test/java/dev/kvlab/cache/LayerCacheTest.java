package dev.kvlab.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A layer's slot metadata is sized with its key and value buffers: both double together, so
 * appending token by token reallocates a logarithmic number of times, and compaction keeps both.
 */
class LayerCacheTest {
    private static final KvSpec SPEC = new KvSpec(1, 2, 4, DataType.FLOAT32);

    @Test
    void metadataGrowsTogetherWithTheKeyValueBuffers() {
        int tokens = 1000;
        try (NDManager manager = NDManager.newBaseManager()) {
            LayerCache layer = new LayerCache(SPEC, manager, 0, Quantization.NONE, false);
            int growths = 0;
            for (int t = 0; t < tokens; t++) {
                long allocated = layer.allocatedBytes();
                layer.append(token(manager, t), token(manager, -t), t);
                growths += layer.allocatedBytes() != allocated ? 1 : 0;
                assertThat(layer.allocatedBytes()).isEqualTo(SPEC.layerBytes(layer.slotCapacity()));
            }
            assertThat(growths).isEqualTo(7); // 16, 32, …, 1024 slots
            int[] expected = new int[tokens];
            Arrays.setAll(expected, i -> i);
            for (int h = 0; h < SPEC.kvHeads(); h++) {
                assertThat(layer.positions(h)).isEqualTo(expected);
                assertThat(layer.counts(h)).hasSize(tokens).containsOnly(1f);
            }
            assertThat(layer.keys().get(0, tokens - 1).toFloatArray()).containsOnly(tokens - 1f);
            layer.close();
        }
    }

    @Test
    void aLimitedLayerStopsGrowingAtTheSlotsItsRequestCanFill() {
        try (NDManager manager = NDManager.newBaseManager()) {
            LayerCache layer = new LayerCache(SPEC, manager, 0, Quantization.NONE, false);
            layer.limitSlots(40);
            for (int t = 0; t < 40; t++) {
                layer.append(token(manager, t), token(manager, -t), t);
            }
            assertThat(layer.slotCapacity()).isEqualTo(40); // 16, 32, then 40 instead of 64
            assertThat(layer.allocatedBytes()).isEqualTo(SPEC.layerBytes(40));
            layer.append(token(manager, 40), token(manager, -40), 40); // past the limit: room all the same
            assertThat(layer.keys().get(0, 40).toFloatArray()).containsOnly(40f);
            layer.close();
        }
    }

    @Test
    void aLimitedQuantizedLayerStopsGrowingItsCodesAtTheLimitToo() {
        KvSpec spec = new KvSpec(1, 2, 16, DataType.FLOAT32);
        Quantization int8 = new Quantization(8, 8, 4);
        try (NDManager manager = NDManager.newBaseManager()) {
            LayerCache limited = new LayerCache(spec, manager, 0, int8, false);
            LayerCache free = new LayerCache(spec, manager, 0, int8, false);
            limited.limitSlots(100);
            for (int t = 0; t < 100; t++) {
                NDArray k = manager.full(new Shape(2, 1, 16), t);
                limited.append(k, k, t);
                free.append(k, k, t);
            }
            assertThat(limited.keys().toFloatArray()).containsExactly(free.keys().toFloatArray());
            assertThat(limited.allocatedBytes()).isLessThan(free.allocatedBytes());
            limited.close();
            free.close();
        }
    }

    @Test
    void compactionKeepsTheCapacityAndMovesMetadataWithTheKeys() {
        try (NDManager manager = NDManager.newBaseManager()) {
            LayerCache layer = new LayerCache(SPEC, manager, 0, Quantization.NONE, false);
            for (int t = 0; t < 5; t++) {
                layer.append(token(manager, t), token(manager, t), t);
            }
            layer.scores().add(0, new float[] {1, 2, 3, 4, 5});
            int capacity = layer.slotCapacity();

            // head 0: slot 3 folds into 1, slot 4 is dropped; head 1: slots 0 and 4 fold into 2
            layer.compact(new CompactionPlan(new int[][] {{0, 1, 2}, {1, 2, 3}},
                    new int[][] {{0, 1, 2, 1, -1}, {1, 0, 1, 2, 1}}));

            assertThat(layer.slotCapacity()).isEqualTo(capacity);
            assertThat(layer.positions(0)).containsExactly(0, 1, 2);
            assertThat(layer.positions(1)).containsExactly(1, 2, 3);
            assertThat(layer.counts(0)).containsExactly(1, 2, 1);
            assertThat(layer.counts(1)).containsExactly(1, 3, 1);
            assertThat(layer.scores().scores(0)).containsExactly(1, 6, 3);
            assertThat(layer.hasMergedSlots()).isTrue();
            float[] keys = layer.keys().toFloatArray(); // (kvHeads, 3, headDim)
            assertThat(keys[4]).isCloseTo(2f, within(1e-6f)); // head 0, slot 1: mean of 1 and 3
            assertThat(keys[12 + 4]).isCloseTo(2f, within(1e-6f)); // head 1, slot 1: mean of 0, 2 and 4
            assertThat(layer.mergedSlots()).isEqualTo(3);
            assertThat(layer.evictedSlots()).isEqualTo(1);
            layer.close();
        }
    }

    @Test
    void oneKeyValueWriteStoresWhatSeparateWritesStoreAcrossGrowths() {
        try (NDManager manager = NDManager.newBaseManager()) {
            LayerCache apart = new LayerCache(SPEC, manager, 0, Quantization.NONE, false);
            LayerCache together = new LayerCache(SPEC, manager, 0, Quantization.NONE, false);
            for (int t = 0; t < 40; t++) { // through the growths at 16 and 32 slots
                apart.append(token(manager, t), token(manager, -t), t);
                together.stageKeyValues(token(manager, t).stack(token(manager, -t), 0));
                together.commit(t);
            }
            assertThat(together.keys().toFloatArray()).containsExactly(apart.keys().toFloatArray());
            assertThat(together.values().toFloatArray()).containsExactly(apart.values().toFloatArray());

            NDArray padded = together.paddedKeyValues(64); // the whole 64-slot allocation: zeros past slot 39
            assertThat(padded.getShape()).isEqualTo(new Shape(2, SPEC.kvHeads(), 64, SPEC.headDim()));
            float[] flat = padded.toFloatArray();
            int perHead = 64 * SPEC.headDim();
            assertThat(flat[39 * SPEC.headDim()]).isEqualTo(39f); // keys, head 0, slot 39
            assertThat(flat[2 * perHead + 39 * SPEC.headDim()]).isEqualTo(-39f); // values, head 0, slot 39
            assertThat(Arrays.copyOfRange(flat, 40 * SPEC.headDim(), perHead)).containsOnly(0f);
            assertThat(together.paddedKeyValues(40).getShape().get(2)).isEqualTo(40);
            assertThatThrownBy(() -> together.paddedKeyValues(65)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("buffer of 64");
            apart.close();
            together.close();
        }
    }

    /** One token's keys or values, (kvHeads, 1, headDim), every element {@code value}. */
    private static NDArray token(NDManager manager, float value) {
        return manager.full(new Shape(SPEC.kvHeads(), 1, SPEC.headDim()), value);
    }
}
