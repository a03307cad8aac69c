package dev.kvlab.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Arrays;

/**
 * A range of slots of a cache buffer, read or written in one native call. The slot axis is the one
 * before the head dimension: (kvHeads, capacity, headDim) for keys or values alone, (2, kvHeads,
 * capacity, headDim) for both. DJL's indexed get and set build an index object over several calls,
 * and a split makes an array for every part; a decode step does this for every sequence and layer, so
 * the calls add up. kvlab runs on DJL's PyTorch engine only.
 */
final class SlotRanges {
    private SlotRanges() {}

    /** A view of slots {@code [from, to)}: no copy. */
    static NDArray view(NDArray buffer, int from, int to) {
        return JniUtils.slice((PtNDArray) buffer, slotAxis(buffer.getShape()), from, to, 1);
    }

    /** Copies {@code values}, shaped as the buffer but {@code n} slots long and of its dtype, into slots {@code [from, from + n)}. */
    static void write(NDArray buffer, int from, NDArray values) {
        Shape shape = buffer.getShape();
        int axis = slotAxis(shape);
        long[] min = new long[shape.dimension()];
        long[] max = shape.getShape().clone(); // Shape hands out its own array
        long[] step = new long[shape.dimension()];
        Arrays.fill(step, 1);
        min[axis] = from;
        max[axis] = from + values.getShape().get(axis);
        JniUtils.indexSet((PtNDArray) buffer, (PtNDArray) values, min, max, step);
    }

    private static int slotAxis(Shape shape) {
        return shape.dimension() - 2;
    }
}
