package dev.kvlab.model.weights;

import java.io.Closeable;
import java.util.Set;

/**
 * Named tensors of a checkpoint, decoded to f32 in Java whatever the stored dtype (F32, F16, BF16):
 * DJL 0.36 aborts the JVM on bf16 arrays, so no bf16 tensor ever reaches the engine.
 */
public interface WeightSource extends Closeable {

    Set<String> names();

    boolean contains(String name);

    /** Shape as stored in the file. */
    long[] shape(String name);

    /** The stored dtype as the file names it ({@code F32}, {@code F16}, {@code BF16}). */
    String dtype(String name);

    /**
     * Reads a tensor as f32, row-major.
     *
     * @param expectedShape the shape the model needs; a different stored shape is a {@link
     *     WeightException} naming the tensor and both shapes
     * @throws WeightException when the tensor is missing or the file is truncated/corrupt
     */
    float[] readFloats(String name, long... expectedShape);

    @Override
    void close();
}
