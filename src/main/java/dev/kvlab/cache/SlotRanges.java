package dev.kvlab.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * A range of slots of a cache buffer shaped (kvHeads, capacity, headDim), read or written in one
 * native call. DJL's indexed get and set build an index object over several calls, and a split makes
 * an array for every part; a decode step does this for every sequence and layer, so the calls add up.
 * kvlab runs on DJL's PyTorch engine only.
 */
final class SlotRanges {
    private SlotRanges() {}

    /** A view of slots {@code [from, to)}: no copy. */
    static NDArray view(NDArray buffer, int from, int to) {
        return JniUtils.slice((PtNDArray) buffer, 1, from, to, 1);
    }

    /** Copies {@code values} (kvHeads, n, headDim), same dtype as the buffer, into slots {@code [from, from + n)}. */
    static void write(NDArray buffer, int from, NDArray values) {
        Shape shape = buffer.getShape();
        long[] min = {0, from, 0};
        long[] max = {shape.get(0), from + values.getShape().get(1), shape.get(2)};
        JniUtils.indexSet((PtNDArray) buffer, (PtNDArray) values, min, max, new long[] {1, 1, 1});
    }
}
