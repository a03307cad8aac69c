package dev.kvlab.cache.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The host (CPU decode), device-then-host (CPU prefill) and device (GPU) computations of key cosine
 * similarity agree, zero keys included.
 */
class KeySimilarityTest {

    @Test
    void hostAndDeviceRowsAreTheSameCosines() {
        int heads = 2;
        int slots = 40;
        int d = 16;
        Random random = new Random(3);
        float[][][] keys = new float[heads][slots][d];
        float[][][] values = new float[heads][slots][d];
        for (int h = 0; h < heads; h++) {
            for (int s = 0; s < slots; s++) {
                for (int i = 0; i < d; i++) {
                    keys[h][s][i] = s == 7 ? 0f : (float) random.nextGaussian(); // slot 7: a zero key
                }
            }
        }
        keys[1][12] = keys[1][3].clone(); // an exact duplicate: cosine 1
        try (FabricatedLayer f = new FabricatedLayer(new FullPolicy(), heads, d)) {
            f.step(keys, values, null);
            int[][] candidates = {{3, 7}, {12, 30}};
            KeySimilarity host = new KeySimilarity(f.layer, candidates, KeySimilarity.Mode.HOST);
            KeySimilarity mixed = new KeySimilarity(f.layer, candidates, KeySimilarity.Mode.DEVICE_THEN_HOST);
            KeySimilarity device = new KeySimilarity(f.layer, candidates, KeySimilarity.Mode.DEVICE);
            for (int h = 0; h < heads; h++) {
                for (int slot : new int[] {3, 7, 12, 30, 39}) { // candidates and rows fetched on demand
                    float[] expected = cosines(keys[h], slot);
                    assertThat(host.row(h, slot)).containsExactly(expected, within(1e-5f));
                    assertThat(mixed.row(h, slot)).containsExactly(expected, within(1e-5f));
                    assertThat(device.row(h, slot)).containsExactly(expected, within(1e-5f));
                }
            }
            assertThat(mixed.copiedKeys()).as("slot 39 was not a candidate").isTrue();
            assertThat(device.copiedKeys()).as("on a GPU only rows cross to the host").isFalse();
            assertThat(host.row(1, 12)[3]).isCloseTo(1f, within(1e-5f));
            assertThat(host.row(0, 7)).containsOnly(0f);
        }
    }

    private static float[] cosines(float[][] keys, int slot) {
        float[] out = new float[keys.length];
        for (int s = 0; s < keys.length; s++) {
            double dot = 0;
            double a = 0;
            double b = 0;
            for (int i = 0; i < keys[s].length; i++) {
                dot += keys[slot][i] * keys[s][i];
                a += keys[slot][i] * keys[slot][i];
                b += keys[s][i] * keys[s][i];
            }
            out[s] = (float) (dot / (Math.max(Math.sqrt(a), 1e-12) * Math.max(Math.sqrt(b), 1e-12)));
        }
        return out;
    }
}
