package dev.kvlab.cache;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every number reads back within half its group's stored scale, whatever the group holds: spread
 * values, an outlier, a constant, zeros, a constant far from zero.
 */
class GroupQuantizerTest {
    private static final int HEADS = 2;
    private static final int SLOTS = 5;
    private static final int DIM = 32;
    private static final int GROUP = 8;

    @ParameterizedTest(name = "int{0}")
    @ValueSource(ints = {8, 4})
    void roundTripStaysWithinHalfAScale(int bits) {
        Quantization q = new Quantization(bits, GROUP, 0);
        float[] x = numbers();
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray input = manager.create(x, new Shape(HEADS, SLOTS, DIM));
            GroupQuantizer.Codes codes = GroupQuantizer.quantize(input, q);
            assertThat(codes.codes().getDataType()).isEqualTo(DataType.UINT8);
            assertThat(codes.codes().getShape()).isEqualTo(new Shape(HEADS, SLOTS, DIM * bits / 8));
            assertThat(codes.scales().getShape()).isEqualTo(new Shape(HEADS, SLOTS, DIM / GROUP));
            float[] back = GroupQuantizer.dequantize(codes, q, DataType.FLOAT32).toFloatArray();
            float[] scales = codes.scales().toType(DataType.FLOAT32, false).toFloatArray();
            for (int i = 0; i < x.length; i++) {
                float scale = scales[i / GROUP];
                assertThat(Math.abs(back[i] - x[i])).as("element %d, scale %g", i, scale)
                        .isLessThanOrEqualTo(scale / 2 + 1e-6f * Math.abs(x[i]));
            }
            float zeroGroupScale = scales[1];
            assertThat(zeroGroupScale).as("a zero group's scale").isLessThan(1e-6f);
            for (int i = GROUP; i < 2 * GROUP; i++) {
                assertThat(back[i]).as("zero group").isEqualTo(0f);
            }
        }
    }

    /** Group 0 spread, 1 zeros, 2 constant, 3 with an outlier, 4 constant far from zero, the rest random. */
    private static float[] numbers() {
        Random random = new Random(7);
        float[] x = new float[HEADS * SLOTS * DIM];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        java.util.Arrays.fill(x, GROUP, 2 * GROUP, 0f);
        java.util.Arrays.fill(x, 2 * GROUP, 3 * GROUP, 3.7f);
        x[3 * GROUP + 5] = 80f;
        java.util.Arrays.fill(x, 4 * GROUP, 5 * GROUP, -1234.5f);
        return x;
    }
}
