package dev.kvlab.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Row entropy: the host sum (decode) and the device sum (prefill) agree with the definition. */
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
}
