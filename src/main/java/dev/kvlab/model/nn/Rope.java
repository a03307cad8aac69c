package dev.kvlab.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embeddings in Hugging Face's {@code rotate_half} convention: the first and second
 * halves of the head dimension form the rotated pairs, and cos/sin repeat over both halves. The
 * cos/sin tables are shared by all requests and grow on demand, since positions can pass the
 * trained context.
 */
public final class Rope {
    private final NDManager manager;
    private final DataType dtype;
    private final int headDim;
    private final double[] invFreq;
    private final NDArray rotateHalf; // (d, d): x · R == rotate_half(x), one matmul instead of slicing
    private NDArray cos; // (length, d)
    private NDArray sin;
    private int length;

    /**
     * @param invFreq one inverse frequency per rotated pair of the head dimension (head dim / 2), as
     *     the architecture computes them from its config
     * @param maxPositions the trained context: tables for it are built up front
     */
    public Rope(NDManager manager, DataType dtype, double[] invFreq, int maxPositions) {
        this.manager = manager;
        this.dtype = dtype;
        this.headDim = 2 * invFreq.length;
        this.invFreq = invFreq.clone();
        int half = headDim / 2;
        float[] r = new float[headDim * headDim];
        for (int j = 0; j < half; j++) {
            r[(j + half) * headDim + j] = -1f; // out[j] = -x[j + half]
            r[j * headDim + j + half] = 1f; // out[j + half] = x[j]
        }
        this.rotateHalf = manager.create(r, new Shape(headDim, headDim)).toType(dtype, false);
        NDScope.unregister(rotateHalf);
        grow(Math.max(256, maxPositions));
    }

    private synchronized void grow(int needed) {
        if (needed <= length) {
            return;
        }
        int newLength = Math.max(needed, length * 2);
        int half = headDim / 2;
        float[] c = new float[newLength * headDim];
        float[] s = new float[newLength * headDim];
        for (int p = 0; p < newLength; p++) {
            for (int i = 0; i < half; i++) {
                float angle = angle(p, i);
                c[p * headDim + i] = c[p * headDim + i + half] = (float) Math.cos(angle);
                s[p * headDim + i] = s[p * headDim + i + half] = (float) Math.sin(angle);
            }
        }
        NDArray newCos = manager.create(c, new Shape(newLength, headDim)).toType(dtype, false);
        NDArray newSin = manager.create(s, new Shape(newLength, headDim)).toType(dtype, false);
        NDScope.unregister(newCos, newSin);
        if (cos != null) {
            // views handed out earlier share the storage through their own handles, so closing is safe
            cos.close();
            sin.close();
        }
        cos = newCos;
        sin = newSin;
        length = newLength;
    }

    /** HF computes the angle in f32. */
    private float angle(int position, int i) {
        return (float) (position * invFreq[i]);
    }

    /**
     * How to rotate a run of positions: cos and sin, each (count, 1, d) to broadcast over heads; or,
     * for a single position, one (d, d) matrix that applies both, so a decode step rotates with one
     * matmul per layer instead of four ops.
     */
    public record Table(NDArray cos, NDArray sin, NDArray rotation) {}

    /**
     * The table of positions {@code first … first + count - 1}: a forward pass makes it once and every
     * layer rotates with it.
     */
    public Table table(int first, int count) {
        if (count == 1) {
            return new Table(null, null, rotation(first));
        }
        NDArray[] t = slice(first, count);
        return new Table(t[0].expandDims(1), t[1].expandDims(1), null);
    }

    /**
     * M with {@code x·M = x·cos + rotate_half(x)·sin} for one position: cos on the diagonal and
     * ∓sin where rotate_half takes its inputs from the other half. The same f32 cos and sin as the
     * tables, so both paths rotate alike.
     */
    private NDArray rotation(int position) {
        float[] m = new float[headDim * headDim];
        fillRotation(m, 0, position);
        return manager.create(m, new Shape(headDim, headDim)).toType(dtype, false);
    }

    private void fillRotation(float[] m, int base, int position) {
        int half = headDim / 2;
        for (int i = 0; i < half; i++) {
            float angle = angle(position, i);
            float cos = (float) Math.cos(angle);
            float sin = (float) Math.sin(angle);
            m[base + i * headDim + i] = cos;
            m[base + (i + half) * headDim + i + half] = cos;
            m[base + (i + half) * headDim + i] = -sin; // out[i] takes -x[i + half]·sin
            m[base + i * headDim + i + half] = sin; // out[i + half] takes x[i]·sin
        }
    }

    /**
     * One rotation matrix per sequence for a batch of single-token steps, (sequences, d, d): rotates
     * rows shaped (sequences, heads, d) with one batched matmul, whatever each sequence's position.
     */
    public NDArray rotations(int[] positions) {
        int dd = headDim * headDim;
        float[] m = new float[positions.length * dd];
        for (int s = 0; s < positions.length; s++) {
            fillRotation(m, s * dd, positions[s]);
        }
        return manager.create(m, new Shape(positions.length, headDim, headDim)).toType(dtype, false);
    }

    /** Rotates {@code x} (…, count, heads, d) by a {@link #table}: the sequence axis must be third from the end. */
    public NDArray apply(NDArray x, Table table) {
        if (table.rotation() != null) {
            return x.matMul(table.rotation());
        }
        return x.mul(table.cos()).add(x.matMul(rotateHalf).mul(table.sin()));
    }

    /** Like {@link #apply(NDArray, Table)} for the positions {@code first … first + count - 1}. */
    public NDArray apply(NDArray x, int first, int count) {
        return apply(x, table(first, count));
    }

    /** Like {@link #apply} for x shaped (…, count, d): the sequence axis second from the end. */
    public NDArray applyToSlots(NDArray x, int first, int count) {
        NDArray[] table = slice(first, count);
        return x.mul(table[0]).add(x.matMul(rotateHalf).mul(table[1]));
    }

    private NDArray[] slice(int first, int count) {
        if (first + count > length) {
            grow(first + count);
        }
        synchronized (this) {
            NDIndex rows = new NDIndex("{}:{}, :", first, first + count);
            return new NDArray[] {cos.get(rows), sin.get(rows)};
        }
    }
}
