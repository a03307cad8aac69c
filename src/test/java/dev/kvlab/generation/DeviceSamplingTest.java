package dev.kvlab.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.kvlab.model.DeviceDraws;
import dev.kvlab.model.ForwardPass;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Greedy, top-k and temperature samplers read the best id, the best k logits or the probabilities
 * computed where the logits are; they must pick the tokens the same sampler picks from the whole
 * copied row.
 */
class DeviceSamplingTest {
    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    /**
     * One row held as a tensor: argmax, top-k, probabilities and a planned draw run in PyTorch, as in a
     * forward pass.
     */
    private record TensorRow(NDArray row, DeviceDraws.Plan plan) implements StepLogits {
        TensorRow(NDArray row) {
            this(row, null);
        }

        @Override
        public float[] last() {
            return row.toFloatArray();
        }

        @Override
        public float[] row(int i) {
            return last();
        }

        @Override
        public ForwardPass.Argmax argmax() {
            return new ForwardPass.Argmax((int) row.argMax(0).getLong(), row.max().getFloat());
        }

        @Override
        public ForwardPass.Top top(int k) {
            NDList top = row.topK(Math.min(k, (int) row.size()), 0, true, true);
            return new ForwardPass.Top(top.get(0).toFloatArray(),
                    Arrays.stream(top.get(1).toLongArray()).mapToInt(i -> (int) i).toArray());
        }

        @Override
        public float[] probabilities(double temperature) {
            return ForwardPass.softmax(row, temperature);
        }

        @Override
        public DeviceDraws.Drawn drawn() {
            return plan == null ? null : DeviceDraws.draw(row.reshape(1, -1), plan.temperature(), plan.topP(),
                    new double[] {plan.uniform()})[0];
        }
    }

    private static float[] randomLogits(SplittableRandom random, int vocab) {
        float[] logits = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            logits[i] = (float) (random.nextGaussian() * 3);
        }
        return logits;
    }

    @Test
    void greedyAndTopKPickWhatTheWholeRowPicks() {
        SplittableRandom random = new SplittableRandom(7);
        SamplingParams[] settings = {SamplingParams.greedy(), new SamplingParams(0.7, 1, 1.0, 3),
                new SamplingParams(0.8, 5, 1.0, 11), new SamplingParams(1.3, 40, 0.9, 5),
                new SamplingParams(1.0, 500, 0.5, 9)};
        for (SamplingParams params : settings) {
            Sampler onRow = Samplers.of(params);
            Sampler onDevice = Samplers.of(params);
            for (int step = 0; step < 200; step++) {
                float[] logits = randomLogits(random, 300);
                int fromRow = onRow.sample(logits);
                int fromDevice = onDevice.sample(new TensorRow(manager.create(logits)));
                assertThat(fromDevice).as("%s, step %d", params, step).isEqualTo(fromRow);
            }
        }
    }

    @Test
    void temperatureAndTopPDrawsFromDeviceProbabilitiesPickWhatTheWholeRowPicks() {
        SplittableRandom random = new SplittableRandom(13);
        double[][] settings = {{0.05, 1.0}, {0.8, 1.0}, {1.0, 1.0}, {2.5, 1.0}, {0.8, 0.9}, {1.3, 0.5}, {1.0, 0.05}};
        for (double[] setting : settings) {
            double temperature = setting[0];
            SamplingParams params = new SamplingParams(temperature, 0, setting[1], 21);
            Sampler onRow = Samplers.of(params);
            Sampler onDevice = Samplers.of(params);
            for (int step = 0; step < 500; step++) {
                float[] logits = randomLogits(random, 4096);
                logits[random.nextInt(4096)] = Float.NEGATIVE_INFINITY; // a masked token is never drawn
                int fromRow = onRow.sample(logits);
                int fromDevice = onDevice.sample(new TensorRow(manager.create(logits)));
                assertThat(fromDevice).as("T %s, top-p %s, step %d", temperature, setting[1], step).isEqualTo(fromRow);
            }
        }
    }

    @Test
    void plannedDeviceDrawsPickWhatTheWholeRowPicks() {
        SplittableRandom random = new SplittableRandom(17);
        double[][] settings = {{0.05, 1.0}, {0.8, 1.0}, {1.0, 1.0}, {2.5, 1.0}, {0.8, 0.9}, {1.3, 0.5}, {1.0, 0.05}};
        for (double[] setting : settings) {
            SamplingParams params = new SamplingParams(setting[0], 0, setting[1], 23);
            Sampler onRow = Samplers.of(params);
            Sampler onDevice = Samplers.of(params);
            int fromDeviceDraws = 0;
            for (int step = 0; step < 500; step++) {
                float[] logits = randomLogits(random, 4096);
                logits[random.nextInt(4096)] = Float.NEGATIVE_INFINITY;
                DeviceDraws.Plan plan = onDevice.plan();
                TensorRow row = new TensorRow(manager.create(logits), plan);
                fromDeviceDraws += row.drawn().id() >= 0 ? 1 : 0;
                assertThat(onDevice.sample(row)).as("%s, step %d", params, step).isEqualTo(onRow.sample(logits));
            }
            assertThat(fromDeviceDraws).as("draws made on the device, %s", params).isEqualTo(500);
        }
    }

    /** f16 logits take few values, so many probabilities tie; the nucleus must order ties as the host does. */
    @Test
    void plannedTopPDrawsOverTiedHalfPrecisionLogitsPickWhatTheWholeRowPicks() {
        SplittableRandom random = new SplittableRandom(31);
        SamplingParams params = new SamplingParams(0.9, 0, 0.9, 37);
        Sampler onRow = Samplers.of(params);
        Sampler onDevice = Samplers.of(params);
        for (int step = 0; step < 300; step++) {
            float[] logits = randomLogits(random, 4096);
            for (int i = 0; i < logits.length; i++) {
                logits[i] = Math.round(logits[i] * 8) / 8f; // a coarse grid: hundreds of ties per value
            }
            DeviceDraws.Plan plan = onDevice.plan();
            TensorRow row = new TensorRow(manager.create(logits), plan);
            assertThat(row.drawn().id()).as("step %d drawn on the device", step).isNotNegative();
            assertThat(onDevice.sample(row)).as("step %d", step).isEqualTo(onRow.sample(logits));
        }
    }

    @Test
    void rowsDrawnTogetherPickWhatEachPicksAlone() {
        SplittableRandom random = new SplittableRandom(29);
        for (double topP : new double[] {1.0, 0.8}) {
            float[][] logits = new float[6][];
            double[] uniforms = new double[6];
            for (int r = 0; r < 6; r++) {
                logits[r] = randomLogits(random, 1000);
                uniforms[r] = random.nextDouble();
            }
            DeviceDraws.Drawn[] together = DeviceDraws.draw(manager.create(logits), 0.9, topP, uniforms);
            for (int r = 0; r < 6; r++) {
                DeviceDraws.Drawn alone = DeviceDraws.draw(manager.create(logits[r]).reshape(1, -1), 0.9, topP,
                        new double[] {uniforms[r]})[0];
                assertThat(together[r]).as("top-p %s, row %d", topP, r).isEqualTo(alone);
            }
        }
    }

    @Test
    void brokenRowsAreNotDrawnOnTheDevice() {
        float[][] rows = {{1f, Float.NaN, 2f}, {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY},
            {0f, Float.POSITIVE_INFINITY, 1f}, {0f, 1f, 2f}};
        for (double topP : new double[] {1.0, 0.7}) {
            DeviceDraws.Drawn[] drawn = DeviceDraws.draw(manager.create(rows), 1.0, topP, new double[] {0.5, 0.5, 0.5, 0.5});
            assertThat(drawn).extracting(DeviceDraws.Drawn::id).as("top-p %s", topP).containsExactly(-1, -1, -1, 2);
        }
    }

    @Test
    void greedyTiesGoToTheLowestIdOnTheDeviceToo() {
        float[] logits = {1f, 3f, 2f, 3f, 3f};
        assertThat(Samplers.GREEDY.sample(new TensorRow(manager.create(logits)))).isEqualTo(1);
    }

    @Test
    void brokenLogitsFailOnTheDeviceAsOnTheRow() {
        float[] nan = {1f, Float.NaN, 2f};
        float[] dead = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
        Sampler topK = Samplers.of(new SamplingParams(1.0, 2, 1.0, 1));
        Sampler temperature = Samplers.of(new SamplingParams(0.8, 0, 1.0, 1));
        Sampler topP = Samplers.of(new SamplingParams(0.8, 0, 0.9, 1));
        for (Sampler sampler : new Sampler[] {Samplers.GREEDY, topK, temperature, topP}) {
            assertThatThrownBy(() -> sampler.sample(new TensorRow(manager.create(nan))))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("NaN");
            assertThatThrownBy(() -> sampler.sample(new TensorRow(manager.create(dead))))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("-Infinity");
        }
    }
}
