package dev.kvlab.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

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
    private int slotLimit = Integer.MAX_VALUE; // the most slots its request can fill
    private int windowCapacity;
    private int quantized;

    QuantizedSlots(KvSpec spec, Quantization q, NDManager manager) {
        this.spec = spec;
        this.q = q;
        this.manager = manager;
    }

    /** Stops the codes' growth at {@code limit} slots (a longer store still gets its room). */
    void limitSlots(int limit) {
        slotLimit = limit;
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

    /**
     * Once the window holds more than {@link Quantization#windowLimit()} of the {@code stored} slots,
     * quantizes its oldest down to {@code residual}: slots leave it {@link Quantization#FLUSH_SLOTS} at a
     * time, so most decode steps quantize nothing.
     */
    void settle(int stored) {
        int inWindow = stored - quantized;
        if (inWindow <= q.windowLimit()) {
            return;
        }
        int leaving = inWindow - q.residual();
        store(quantized, SlotRanges.view(window, 0, leaving));
        NDArray rest = SlotRanges.view(window, leaving, inWindow).duplicate(); // the ranges overlap
        SlotRanges.write(window, 0, rest);
        quantized += leaving;
    }

    /**
     * Replaces every slot by {@code all} (kvHeads, n, headDim). A slot that was quantized stays quantized
     * with its codes, gathered: new slot {@code i} of head {@code h} copies old slot {@code keep[h][i]}
     * unless its row {@code h·n + i} is in {@code mergedRows}. Quantizing a kept slot again would move
     * its grid (the stored f16 zero point and scale are rounded outward), and a slot kept through
     * hundreds of compactions would drift; so only merged slots and slots leaving the window are
     * quantized, from {@code all}.
     */
    void compact(NDArray all, int[][] keep, long[] mergedRows) {
        int n = (int) all.getShape().get(1);
        int leaving = Math.max(0, n - q.windowLimit());
        for (int[] slots : keep) { // slots quantized before stay so, even if the window then holds fewer
            int i = 0;
            while (i < n && slots[i] < quantized) {
                i++;
            }
            leaving = Math.max(leaving, i);
        }
        if (leaving > 0) {
            if (leaving > capacity) {
                reserve(leaving);
            }
            gather(all, keep, n, leaving, mergedRows);
        }
        quantized = leaving;
        if (n > leaving) {
            write(leaving, SlotRanges.view(all, leaving, n));
        }
    }

    /** Rebuilds the first {@code leaving} quantized slots: old codes where kept, fresh ones elsewhere. */
    private void gather(NDArray all, int[][] keep, int n, int leaving, long[] mergedRows) {
        Set<Long> merged = new HashSet<>();
        for (long row : mergedRows) {
            merged.add(row);
        }
        int heads = keep.length;
        long[] from = new long[heads * leaving];
        long[] fresh = new long[from.length]; // rows of the new layout to quantize
        long[] freshSources = new long[from.length]; // their rows in all, (kvHeads·n)
        int count = 0;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < leaving; i++) {
                int s = keep[h][i];
                if (s < quantized && !merged.contains((long) h * n + i)) {
                    from[h * leaving + i] = (long) h * capacity + s;
                } else {
                    fresh[count] = (long) h * leaving + i;
                    freshSources[count++] = (long) h * n + i;
                }
            }
        }
        NDArray[] buffers = {codes, scales, zeros};
        NDArray[] rebuilt = new NDArray[3];
        NDArray index = manager.create(from);
        for (int b = 0; b < 3; b++) {
            rebuilt[b] = buffers[b].reshape(-1, buffers[b].getShape().get(2)).get(index); // (kvHeads·leaving, width)
        }
        if (count > 0) {
            NDArray rows = all.reshape(-1, spec.headDim()).get(manager.create(Arrays.copyOf(freshSources, count)));
            GroupQuantizer.Codes c = GroupQuantizer.quantize(rows.reshape(1, count, spec.headDim()), q);
            NDIndex at = new NDIndex("{}", manager.create(Arrays.copyOf(fresh, count)));
            NDArray[] parts = {c.codes(), c.scales(), c.zeros()};
            for (int b = 0; b < 3; b++) {
                rebuilt[b].set(at, parts[b].reshape(count, -1));
            }
        }
        for (int b = 0; b < 3; b++) {
            SlotRanges.write(buffers[b], 0, rebuilt[b].reshape(heads, leaving, -1));
        }
    }

    private void store(int from, NDArray x) {
        int needed = from + (int) x.getShape().get(1);
        if (needed > capacity) {
            reserve(Math.max(needed, Math.min(slotLimit, 2 * capacity)));
        }
        GroupQuantizer.Codes c = GroupQuantizer.quantize(x, q);
        SlotRanges.write(codes, from, c.codes());
        SlotRanges.write(scales, from, c.scales());
        SlotRanges.write(zeros, from, c.zeros());
    }

    /** The oldest slots, stored as codes; the window holds the rest (at most {@link Quantization#windowLimit()}). */
    int quantized() {
        return quantized;
    }

    /** Slots {@code [from, to)} dequantized, (kvHeads, to − from, headDim) in the cache dtype. */
    NDArray read(int from, int to) {
        int codedTo = Math.min(to, quantized);
        NDArray old = from < codedTo ? GroupQuantizer.dequantize(new GroupQuantizer.Codes(
                SlotRanges.view(codes, from, codedTo), SlotRanges.view(scales, from, codedTo),
                SlotRanges.view(zeros, from, codedTo)), q, spec.dtype()) : null;
        NDArray exact = to > quantized ? SlotRanges.view(window, Math.max(from, quantized) - quantized, to - quantized)
                : null;
        return old == null ? exact : exact == null ? old : old.concat(exact, 1);
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
