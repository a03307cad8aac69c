package dev.kvlab.model.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HalfFloatsTest {

    @Test
    void everyF16BitPatternDecodesAndEncodesBackToItself() {
        for (int bits = 0; bits <= 0xFFFF; bits++) {
            float value = HalfFloats.fromF16((short) bits);
            boolean nan = (bits & 0x7C00) == 0x7C00 && (bits & 0x3FF) != 0;
            String pattern = "f16 0x" + Integer.toHexString(bits) + " = " + value;
            if (nan) {
                assertTrue(Float.isNaN(value), pattern);
                assertTrue(Float.isNaN(HalfFloats.fromF16(HalfFloats.toF16(value))), pattern);
            } else {
                assertEquals(bits, HalfFloats.toF16(value) & 0xFFFF, pattern);
            }
        }
    }

    @Test
    void f16DecodesKnownValues() {
        assertEquals(1.0f, HalfFloats.fromF16((short) 0x3C00));
        assertEquals(-2.0f, HalfFloats.fromF16((short) 0xC000));
        assertEquals(65504f, HalfFloats.fromF16((short) 0x7BFF));
        assertEquals(0x1p-24f, HalfFloats.fromF16((short) 0x0001));
        assertEquals(Float.NEGATIVE_INFINITY, HalfFloats.fromF16((short) 0xFC00));
    }

    @Test
    void f16RoundsToNearestEvenAndOverflowsToInfinity() {
        assertEquals(0x3C00, HalfFloats.toF16(1f + 0x1p-11f) & 0xFFFF, "tie rounds down to even");
        assertEquals(0x3C02, HalfFloats.toF16(1f + 0x1p-10f + 0x1p-11f) & 0xFFFF, "tie rounds up to even");
        assertEquals(0x3C01, HalfFloats.toF16(1f + 0x1p-11f + 0x1p-20f) & 0xFFFF, "above the tie rounds up");
        assertEquals(0x7C00, HalfFloats.toF16(65520f) & 0xFFFF, "halfway past the largest finite is infinity");
        assertEquals(0x7BFF, HalfFloats.toF16(65519f) & 0xFFFF);
        assertEquals(0x0000, HalfFloats.toF16(0x1p-25f) & 0xFFFF, "half the smallest subnormal ties to zero");
        assertEquals(0x0001, HalfFloats.toF16(0x1.8p-25f) & 0xFFFF);
    }

    @Test
    void everyBf16BitPatternDecodesAndEncodesBackToItself() {
        for (int bits = 0; bits <= 0xFFFF; bits++) {
            float value = HalfFloats.fromBf16((short) bits);
            if (Float.isNaN(value)) {
                assertTrue(Float.isNaN(HalfFloats.fromBf16(HalfFloats.toBf16(value))));
            } else {
                assertEquals(bits, HalfFloats.toBf16(value) & 0xFFFF);
            }
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(0x3F80, HalfFloats.toBf16(1f + 0x1p-8f) & 0xFFFF, "tie rounds down to even");
        assertEquals(0x3F82, HalfFloats.toBf16(1f + 0x1p-7f + 0x1p-8f) & 0xFFFF, "tie rounds up to even");
        assertEquals(0x3F81, HalfFloats.toBf16(1f + 0x1p-8f + 0x1p-20f) & 0xFFFF, "above the tie rounds up");
        assertEquals(0x3F80, HalfFloats.toBf16(1f + 0x1p-8f - 0x1p-20f) & 0xFFFF, "below the tie rounds down");
        assertEquals(-3.140625f, HalfFloats.fromBf16(HalfFloats.toBf16(-3.14159f)));
    }
}
