package dev.kvlab.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;

/**
 * Asymmetric per-token group quantization, as in Hugging Face's {@code QuantizedCache}: each slot's
 * vector of {@code headDim} numbers is cut into groups of {@code groupSize}; a group keeps a zero
 * point {@code z ≈ min}, a scale {@code s ≈ (max − z) / (2^bits − 1)} and one code per number,
 * {@code c = round((x − z) / s)}, read back as {@code z + c·s}. Scale and zero point are stored as
 * f16, and the codes are computed from the stored (rounded) values, so every number reads back within
 * {@code s / 2} of itself: {@code z} is rounded down and {@code s} up before storing, so the group's
 * range stays covered. Groups run along the head dimension, not across tokens, so each slot is
 * self-contained; KIVI quantizes keys per channel (groups across tokens), which fits outlier channels
 * better but would have to be rebuilt whenever a policy evicts or merges a slot.
 *
 * <p>int8 codes are one uint8 each; int4 codes are packed two per byte, the even position in the low
 * four bits. Numbers beyond the f16 range (|x| > 65504) are not supported.
 */
final class GroupQuantizer {
    /** Relative and absolute margins that keep f16 rounding on the safe side of the range. */
    private static final float RELATIVE_MARGIN = 0x1p-10f;
    private static final float ABSOLUTE_MARGIN = 1e-7f;

    private GroupQuantizer() {}

    /** A quantized tensor: codes (kvHeads, n, headDim·bits/8) uint8, scales and zeros (kvHeads, n, groups) f16. */
    record Codes(NDArray codes, NDArray scales, NDArray zeros) {}

    /** @param x (kvHeads, n, headDim), any float dtype */
    static Codes quantize(NDArray x, Quantization q) {
        long heads = x.getShape().get(0);
        long n = x.getShape().get(1);
        long dim = x.getShape().get(2);
        long groups = dim / q.groupSize();
        NDArray g = x.toType(DataType.FLOAT32, false).reshape(heads, n, groups, q.groupSize());
        NDArray min = g.min(new int[] {3}, true); // (kvHeads, n, groups, 1)
        NDArray max = g.max(new int[] {3}, true);
        NDArray zero = min.sub(min.abs().mul(RELATIVE_MARGIN).add(ABSOLUTE_MARGIN)).toType(DataType.FLOAT16, false);
        NDArray zero32 = zero.toType(DataType.FLOAT32, false);
        NDArray scale = max.sub(zero32).div(q.levels()).mul(1 + RELATIVE_MARGIN).add(ABSOLUTE_MARGIN)
                .toType(DataType.FLOAT16, false);
        NDArray codes = g.sub(zero32).div(scale.toType(DataType.FLOAT32, false)).round().clip(0, q.levels())
                .reshape(heads, n, dim);
        if (q.bits() == 4) {
            NDArray pairs = codes.reshape(heads, n, dim / 2, 2);
            codes = pairs.get(":, :, :, 0").add(pairs.get(":, :, :, 1").mul(16));
        }
        return new Codes(codes.toType(DataType.UINT8, false), scale.reshape(heads, n, groups),
                zero.reshape(heads, n, groups));
    }

    /** The numbers {@code codes} stand for, (kvHeads, n, headDim) in {@code dtype}. */
    static NDArray dequantize(Codes c, Quantization q, DataType dtype) {
        long heads = c.codes().getShape().get(0);
        long n = c.codes().getShape().get(1);
        long groups = c.scales().getShape().get(2);
        NDArray codes = c.codes().toType(DataType.FLOAT32, false);
        if (q.bits() == 4) { // temporaries closed as soon as they are used: at most two full-size copies live
            NDArray quotient = codes.div(16);
            NDArray high = quotient.floor();
            quotient.close();
            NDArray highTimes16 = high.mul(16);
            NDArray low = codes.sub(highTimes16);
            highTimes16.close();
            codes.close();
            codes = NDArrays.stack(new NDList(low, high), 3); // (kvHeads, n, headDim/2, 2)
            low.close();
            high.close();
        }
        NDArray g = codes.reshape(heads, n, groups, q.groupSize()); // a fresh f32 array: scaled in place
        NDArray scales = c.scales().toType(DataType.FLOAT32, false).expandDims(3);
        NDArray zeros = c.zeros().toType(DataType.FLOAT32, false).expandDims(3);
        return g.muli(scales).addi(zeros).reshape(heads, n, groups * q.groupSize()).toType(dtype, false);
    }
}
