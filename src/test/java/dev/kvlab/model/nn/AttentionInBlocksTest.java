package dev.kvlab.model.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Attention read block by block with a running maximum and sum must give what one softmax over every
 * slot gives, wherever the blocks end, with the causal mask of a chunk and the bias of merged slots.
 */
class AttentionInBlocksTest {

    @Test
    void blocksOfAnySizeGiveTheOutputOfOneSoftmax() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Attention.Heads h = Attention.Heads.of(4, 2, 8, manager, DataType.FLOAT32);
            int stored = 50;
            NDArray keys = manager.randomNormal(new Shape(2, stored, 8)).mul(3);
            NDArray values = manager.randomNormal(new Shape(2, stored, 8));
            float[] counts = new float[2 * stored];
            for (int i = 0; i < counts.length; i++) {
                counts[i] = (float) Math.log(1 + i % 3); // some slots stand for 2 or 3 tokens
            }
            NDArray logCount = manager.create(counts, new Shape(2, 1, 1, stored));
            for (int tokens : new int[] {1, 6}) {
                NDArray q = manager.randomNormal(new Shape(tokens, 4, 8));
                NDArray mask = causalMask(manager, tokens, stored);
                float[] expected = Attention.attend(q, keys, values, mask, logCount, h).output().toFloatArray();
                for (int block : new int[] {1, 7, 16, 45, 50}) {
                    float[] blocked = Attention.attendInBlocks(q, stored, from -> Math.min(stored, from + block),
                            (a, b) -> keys.get(":, {}:{}", a, b), (a, b) -> values.get(":, {}:{}", a, b), tokens > 1,
                            logCount, h).toFloatArray();
                    assertThat(maxDifference(expected, blocked)).as("%d tokens, blocks of %d", tokens, block)
                            .isLessThan(1e-5f);
                }
            }
        }
    }

    private static NDArray causalMask(NDManager manager, int tokens, int stored) {
        if (tokens == 1) {
            return null;
        }
        float[] m = new float[tokens * stored];
        for (int t = 0; t < tokens; t++) {
            Arrays.fill(m, t * stored + stored - tokens + t + 1, (t + 1) * stored, Float.NEGATIVE_INFINITY);
        }
        return manager.create(m, new Shape(tokens, stored));
    }

    private static float maxDifference(float[] a, float[] b) {
        assertThat(b).hasSameSizeAs(a);
        float worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }
}
