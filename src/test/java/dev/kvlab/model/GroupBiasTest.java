package dev.kvlab.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.cache.CompactionPlan;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.KvSpec;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.policy.FullPolicy;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A decode group's attention bias masks each member's padding: layers whose members hold the same
 * slots share one array per step, and a layer whose slots differ, or whose member has merged slots,
 * gets its own.
 */
class GroupBiasTest {
    private static final KvSpec SPEC = new KvSpec(3, 1, 2, DataType.FLOAT32);
    private static final float NO = Float.NEGATIVE_INFINITY;

    @Test
    void layersWithTheSameSlotsShareTheBiasAndOthersGetTheirOwn() {
        try (NDManager manager = NDManager.newBaseManager();
                KvCache a = new KvCache(SPEC, new FullPolicy(), NDManager.newBaseManager(), 8);
                KvCache b = new KvCache(SPEC, new FullPolicy(), NDManager.newBaseManager(), 8);
                NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            fill(manager, a, new int[] {3, 3, 4});
            fill(manager, b, new int[] {2, 2, 2});
            ForwardPass pass = new ForwardPass(List.of(new SequenceInput(a, new int[] {1}, false),
                    new SequenceInput(b, new int[] {1}, false)), SPEC.layers());

            NDArray first = bias(pass, a, b, 0, 3);
            assertThat(first.toFloatArray()).containsExactly(0, 0, 0, 0, 0, NO);
            assertThat(bias(pass, a, b, 1, 3)).as("the same slots as the layer before").isSameAs(first);

            NDArray wider = bias(pass, a, b, 2, 4);
            assertThat(wider.getShape()).isEqualTo(new Shape(2, 1, 1, 4));
            assertThat(wider.toFloatArray()).containsExactly(0, 0, 0, 0, 0, 0, NO, NO);

            a.layer(1).compact(new CompactionPlan(new int[][] {{0, 2}}, new int[][] {{0, 0, 1}})); // slot 1 into 0
            NDArray merged = bias(pass, a, b, 1, 2);
            assertThat(merged.toFloatArray()).containsExactly((float) Math.log(2), 0, 0, 0);
            assertThat(bias(pass, a, b, 1, 2)).as("merged slots are not shared").isNotSameAs(merged);
        }
    }

    private static NDArray bias(ForwardPass pass, KvCache a, KvCache b, int layer, int width) {
        return pass.groupBias(0, new LayerCache[] {a.layer(layer), b.layer(layer)}, width,
                a.manager(), DataType.FLOAT32);
    }

    /** Appends {@code slots[l]} tokens to layer l. */
    private static void fill(NDManager manager, KvCache cache, int[] slots) {
        for (int l = 0; l < slots.length; l++) {
            NDArray kv = manager.ones(new Shape(SPEC.kvHeads(), slots[l], SPEC.headDim()));
            cache.layer(l).append(kv, kv, 0);
        }
    }
}
