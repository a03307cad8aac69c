package dev.kvlab.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Row entropy: the host sum (CPU decode) and the device sum (prefill, and every step on a GPU) agree
 * with the definition; a decode group's members see what their own probabilities show alone.
 */
class AttentionObservationTest {

    @Test
    void hostAndDeviceEntropyMatchTheDefinitionWithCausalZeros() {
        int kvHeads = 2;
        int group = 3;
        int tokens = 4;
        int stored = 9;
        Random random = new Random(5);
        float[] p = new float[kvHeads * group * tokens * stored];
        double[] expected = new double[tokens];
        for (int h = 0; h < kvHeads * group; h++) {
            for (int t = 0; t < tokens; t++) {
                int visible = stored - tokens + t + 1; // later slots are masked: probability exactly 0
                double[] row = new double[visible];
                double total = 0;
                for (int s = 0; s < visible; s++) {
                    row[s] = Math.exp(3 * random.nextGaussian());
                    total += row[s];
                }
                for (int s = 0; s < visible; s++) {
                    float a = (float) (row[s] / total);
                    p[(h * tokens + t) * stored + s] = a;
                    expected[t] -= a * Math.log(a) / (kvHeads * group);
                }
            }
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray probs = manager.create(p, new Shape(kvHeads, group, tokens, stored));
            AttentionObservation observation = new AttentionObservation(probs);
            assertThat(observation.hostEntropy()).containsExactly(expected, within(1e-5));
            assertThat(observation.deviceEntropy()).containsExactly(expected, within(1e-5));
            float[] normalized = observation.rowEntropy();
            for (int t = 0; t < tokens; t++) {
                assertThat(normalized[t]).isCloseTo((float) (expected[t] / Math.log(stored - tokens + t + 1)), within(1e-5f));
            }
        }
    }

    @Test
    void aGroupMemberSeesWhatItsOwnProbabilitiesShowAlone() {
        int members = 3;
        int kvHeads = 2;
        int group = 3;
        int width = 7;
        int[] slots = {7, 5, 2};
        Random random = new Random(9);
        float[] p = new float[members * kvHeads * group * width];
        for (int m = 0; m < members; m++) {
            for (int row = 0; row < kvHeads * group; row++) {
                double total = 0;
                double[] weights = new double[slots[m]];
                for (int i = 0; i < slots[m]; i++) {
                    weights[i] = Math.exp(2 * random.nextGaussian());
                    total += weights[i];
                }
                for (int i = 0; i < slots[m]; i++) { // past its slots a member's padding has probability 0
                    p[(m * kvHeads * group + row) * width + i] = (float) (weights[i] / total);
                }
            }
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray probs = manager.create(p, new Shape(members, kvHeads, group, width));
            AttentionObservation[] together = AttentionObservation.ofGroup(probs, slots, new boolean[] {true, true, true});
            for (int m = 0; m < members; m++) {
                NDArray own = probs.get(m).get(":, :, :{}", slots[m]).reshape(kvHeads, group, 1, slots[m]);
                AttentionObservation alone = new AttentionObservation(own);
                assertThat(together[m].columnSums()).as("member %d", m).isDeepEqualTo(alone.columnSums());
                assertThat(together[m].lastRow()).isDeepEqualTo(alone.lastRow());
                assertThat(together[m].lastRowsSums(1, true)).isDeepEqualTo(alone.lastRowsSums(1, true));
                assertThat(together[m].lastRowsSums(1, false)).isDeepEqualTo(alone.lastRowsSums(1, false));
                assertThat(together[m].rowEntropy()).containsExactly(alone.rowEntropy());
                assertThat(together[m].stored()).isEqualTo(slots[m]);
            }
            GroupObservation shared = new GroupObservation(probs);
            for (int m = 0; m < members; m++) {
                assertThat(shared.deviceEntropy(m)).as("member %d summed on the device (a GPU's way)", m)
                        .isCloseTo(shared.entropy(m, slots[m]), within(1e-5));
            }
        }
    }
}
