package dev.kvlab.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.model.weights.WeightSource;

/**
 * Moves checkpoint tensors onto the device in the compute dtype, in the layout the forward pass
 * wants: Hugging Face linear weights (out, in) become (in, out) so activations multiply them
 * directly, and projections that read the same input are fused into one matrix. The architecture
 * packages name the tensors; the loader makes one per model.
 */
public final class DeviceTensors {
    private final WeightSource source;
    private final NDManager manager;
    private final DataType dtype;
    private long parameters;

    DeviceTensors(WeightSource source, NDManager manager, DataType dtype) {
        this.source = source;
        this.manager = manager;
        this.dtype = dtype;
    }

    public long parameters() {
        return parameters;
    }

    public boolean has(String name) {
        return source.contains(name);
    }

    /** A tensor as stored, e.g. an embedding (vocab, hidden) or a norm weight (hidden). */
    public NDArray raw(String name, long... shape) {
        float[] values = source.readFloats(name, shape);
        parameters += values.length;
        try (NDManager scratch = manager.newSubManager()) {
            return keep(scratch.create(values, new Shape(shape)));
        }
    }

    /**
     * {@code nn.Linear} weights stored (out, in), fused along out and returned as a row-major (in,
     * Σout) matrix, not as a transposed view of the (out, in) one: on the CPU a single-row decode step
     * multiplies the row-major matrix in about 0.6 of the time.
     */
    public NDArray linearFused(long in, String[] names, long[] outs) {
        try (NDManager scratch = manager.newSubManager()) {
            NDList parts = new NDList();
            for (int i = 0; i < names.length; i++) {
                float[] values = source.readFloats(names[i], outs[i], in);
                parameters += values.length;
                parts.add(scratch.create(values, new Shape(outs[i], in)));
            }
            NDArray fused = parts.size() == 1 ? parts.head() : NDArrays.concat(parts, 0);
            // flattening the transposed view copies it in (in, Σout) order
            return keep(fused.transpose().flatten().reshape(in, fused.getShape().get(0)));
        }
    }

    /** Biases of fused projections, concatenated. */
    public NDArray biasFused(String[] names, long[] outs) {
        try (NDManager scratch = manager.newSubManager()) {
            NDList parts = new NDList();
            for (int i = 0; i < names.length; i++) {
                float[] values = source.readFloats(names[i], outs[i]);
                parameters += values.length;
                parts.add(scratch.create(values, new Shape(outs[i])));
            }
            NDArray fused = parts.size() == 1 ? parts.head() : NDArrays.concat(parts, 0);
            return keep(fused);
        }
    }

    /**
     * A copy in torch-owned memory, in the compute dtype, attached to the weights' manager. On CPU,
     * DJL wraps Java's direct buffer without copying, and views or same-dtype casts of such an array
     * share that buffer but not the Java reference that keeps it alive: once the original array is
     * closed, a garbage collection frees the memory under them (seen as random NaN logits).
     */
    private NDArray keep(NDArray scratchArray) {
        NDArray copy = scratchArray.toType(dtype, false);
        if (copy == scratchArray || copy.getDataType() == scratchArray.getDataType()) {
            copy = scratchArray.duplicate();
        }
        copy.attach(manager);
        return copy;
    }

    /** Tied weights: the LM head is a transposed view of the embedding, sharing its storage. */
    public NDArray tiedHead(NDArray embedding) {
        return embedding.transpose();
    }

    /** GPT-2 Conv1D weights are already stored (in, out): used as is. */
    public NDArray conv1d(String name, long in, long out) {
        return raw(name, in, out);
    }
}
