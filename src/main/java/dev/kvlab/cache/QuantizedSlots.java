package dev.kvlab.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * The keys, or the values, of one layer stored as {@link Quantization} says: slots {@code [0, quantized)}
 * as codes with scales and zero points ({@link GroupQuantizer}), the slots after them in a window
 * buffer in the cache dtype. New slots are written to the window; {@link #settle} quantizes the oldest
 * of them once the window holds more than {@code residual}. Readers get the numbers back dequantized,
 * one tensor per call, so attention and policies see an ordinary (kvHeads, slots, headDim) array.
 */
final class QuantizedSlots {
    private final KvSpec spec;
    private final Quantization q;
    private final NDManager manager;

    private NDArray codes; // (kvHeads, capacity, headDim·bits/8) uint8
    private NDArray scales; // (kvHeads, capacity, groups) f16
    private NDArray zeros;
    private NDArray window; // (kvHeads, windowCapacity, headDim), cache dtype
    private int capacity;
    private int windowCapacity;
    private int quantized;

    QuantizedSlots(KvSpec spec, Quantization q, NDManager manager) {
        this.spec = spec;
        this.q = q;
        this.manager = manager;
    }

    /** Makes room for {@code slots} quantized slots, keeping those stored. */
    void reserve(int slots) {
        if (slots <= capacity) {
            return;
        }
        long groups = spec.headDim() / q.groupSize();
        NDArray newCodes = zeros(slots, (long) spec.headDim() * q.bits() / 8, DataType.UINT8);
        NDArray newScales = zeros(slots, groups, DataType.FLOAT16);
        NDArray newZeros = zeros(slots, groups, DataType.FLOAT16);
        if (quantized > 0) {
            SlotRanges.write(newCodes, 0, SlotRanges.view(codes, 0, quantized));
            SlotRanges.write(newScales, 0, SlotRanges.view(scales, 0, quantized));
            SlotRanges.write(newZeros, 0, SlotRanges.view(zeros, 0, quantized));
        }
        closeQuantized();
        codes = newCodes;
        scales = newScales;
        zeros = newZeros;
        capacity = slots;
    }

    private NDArray zeros(long slots, long width, DataType dtype) {
        NDArray a = manager.zeros(new Shape(spec.kvHeads(), slots, width), dtype);
        NDScope.unregister(a); // outlives the step scope that allocated it
        return a;
    }

    /** Writes {@code x} (kvHeads, n, headDim) as slots {@code [from, from + n)}; {@code from} is past the quantized slots. */
    void write(int from, NDArray x) {
        int offset = from - quantized;
        int needed = offset + (int) x.getShape().get(1);
        if (needed > windowCapacity) {
            int grown = Math.max(needed, Math.max(2 * windowCapacity, q.residual() + 16));
            NDArray bigger = zeros(grown, spec.headDim(), spec.dtype());
            if (offset > 0) {
                SlotRanges.write(bigger, 0, SlotRanges.view(window, 0, offset));
            }
            if (window != null) {
                window.close();
            }
            window = bigger;
            windowCapacity = grown;
        }
        SlotRanges.write(window, offset, x.toType(spec.dtype(), false));
    }

    /** Quantizes the oldest window slots until at most {@code residual} of the {@code stored} remain. */
    void settle(int stored) {
        int inWindow = stored - quantized;
        int leaving = inWindow - q.residual();
        if (leaving <= 0) {
            return;
        }
        store(quantized, SlotRanges.view(window, 0, leaving));
        NDArray rest = SlotRanges.view(window, leaving, inWindow).duplicate(); // the ranges overlap
        SlotRanges.write(window, 0, rest);
        quantized += leaving;
    }

    /**
     * Replaces every slot by {@code all} (kvHeads, n, headDim), the newest {@code residual} kept exact. A
     * slot that was quantized stays quantized, with its codes: new slot {@code i} of head {@code h} copies
     * old slot {@code keep[h][i]} unless its row {@code h·n + i} is in {@code mergedRows}. Quantizing a
     * slot again would move its grid (the stored f16 zero point and scale are rounded outward), and a
     * slot kept through hundreds of compactions would drift; so only merged slots and slots leaving the
     * exact window are quantized.
     */
    void compact(NDArray all, int[][] keep, long[] mergedRows) {
        int n = (int) all.getShape().get(1);
        int leaving = Math.max(0, n - q.residual());
        for (int[] slots : keep) { // slots quantized before stay so, even if the window holds fewer than residual
            int i = 0;
            while (i < n && slots[i] < quantized) {
                i++;
            }
            leaving = Math.max(leaving, i);
        }
        if (leaving > 0) {
            GroupQuantizer.Codes fresh = GroupQuantizer.quantize(SlotRanges.view(all, 0, leaving), q);
            copyKept(fresh, keep, n, leaving, mergedRows);
            if (leaving > capacity) {
                reserve(leaving);
            }
            SlotRanges.write(codes, 0, fresh.codes());
            SlotRanges.write(scales, 0, fresh.scales());
            SlotRanges.write(zeros, 0, fresh.zeros());
        }
        quantized = leaving;
        if (n > leaving) {
            write(leaving, SlotRanges.view(all, leaving, n));
        }
    }

    /** Overwrites the rows of {@code fresh} whose slot was quantized before with its old codes. */
    private void copyKept(GroupQuantizer.Codes fresh, int[][] keep, int n, int leaving, long[] mergedRows) {
        java.util.Set<Long> merged = new java.util.HashSet<>();
        for (long row : mergedRows) {
            merged.add(row);
        }
        long[] to = new long[keep.length * leaving];
        long[] from = new long[to.length];
        int count = 0;
        for (int h = 0; h < keep.length; h++) {
            for (int i = 0; i < leaving; i++) {
                if (keep[h][i] < quantized && !merged.contains((long) h * n + i)) {
                    to[count] = (long) h * leaving + i;
                    from[count++] = (long) h * capacity + keep[h][i];
                }
            }
        }
        if (count == 0) {
            return;
        }
        NDIndex target = new NDIndex("{}", manager.create(java.util.Arrays.copyOf(to, count)));
        NDArray source = manager.create(java.util.Arrays.copyOf(from, count));
        for (NDArray[] pair : new NDArray[][] {{fresh.codes(), codes}, {fresh.scales(), scales}, {fresh.zeros(), zeros}}) {
            long width = pair[1].getShape().get(2);
            pair[0].reshape(-1, width).set(target, pair[1].reshape(-1, width).get(source)); // views: writes fresh
        }
    }

    private void store(int from, NDArray x) {
        int needed = from + (int) x.getShape().get(1);
        if (needed > capacity) {
            reserve(Math.max(needed, 2 * capacity));
        }
        GroupQuantizer.Codes c = GroupQuantizer.quantize(x, q);
        SlotRanges.write(codes, from, c.codes());
        SlotRanges.write(scales, from, c.scales());
        SlotRanges.write(zeros, from, c.zeros());
    }

    /** The oldest slots, stored as codes; the window holds the rest (at most {@code residual} once settled). */
    int quantized() {
        return quantized;
    }

    /** Slots {@code [0, slots)} dequantized, (kvHeads, slots, headDim) in the cache dtype. */
    NDArray read(int slots) {
        NDArray exact = slots > quantized ? SlotRanges.view(window, 0, slots - quantized) : null;
        if (quantized == 0) {
            return exact;
        }
        NDArray old = GroupQuantizer.dequantize(new GroupQuantizer.Codes(SlotRanges.view(codes, 0, quantized),
                SlotRanges.view(scales, 0, quantized), SlotRanges.view(zeros, 0, quantized)), q, spec.dtype());
        return exact == null ? old : old.concat(exact, 1);
    }

    /** Views of the tensors that hold slots {@code [0, slots)}: what their bytes are counted from. */
    List<NDArray> tensors(int slots) {
        List<NDArray> parts = new ArrayList<>();
        if (quantized > 0) {
            parts.add(SlotRanges.view(codes, 0, quantized));
            parts.add(SlotRanges.view(scales, 0, quantized));
            parts.add(SlotRanges.view(zeros, 0, quantized));
        }
        if (slots > quantized) {
            parts.add(SlotRanges.view(window, 0, slots - quantized));
        }
        return parts;
    }

    long allocatedBytes() {
        long perSlot = (long) spec.kvHeads() * q.quantizedRowBytes(spec.headDim());
        return capacity * perSlot + (long) windowCapacity * spec.kvHeads() * spec.headDim() * spec.dtype().getNumOfBytes();
    }

    private void closeQuantized() {
        if (codes != null) {
            codes.close();
            scales.close();
            zeros.close();
        }
    }

    void close() {
        closeQuantized();
        if (window != null) {
            window.close();
        }
    }
}
