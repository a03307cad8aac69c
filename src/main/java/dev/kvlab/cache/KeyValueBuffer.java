package dev.kvlab.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import java.util.List;

/**
 * An unquantized layer's keys and values in one device buffer, (2, kvHeads, capacity, headDim): keys,
 * then values. One buffer lets a grouped decode step write a sequence's new key and value with one
 * native call and stack one view per sequence. Every write goes to the whole buffer; the key and
 * value halves are read-only views, because autograd refuses in-place writes through them.
 */
final class KeyValueBuffer {
    private final KvSpec spec;
    private final NDManager manager;
    private NDArray both;
    private NDArray keys;
    private NDArray values;
    private int capacity;

    KeyValueBuffer(KvSpec spec, NDManager manager) {
        this.spec = spec;
        this.manager = manager;
    }

    /** Slots allocated per head (0 before the first growth). */
    int capacity() {
        return capacity;
    }

    /** Writes {@code keyValues}, (2, kvHeads, n, headDim), into slots {@code [from, from + n)}. */
    void write(int from, NDArray keyValues) {
        SlotRanges.write(both, from, keyValues.toType(spec.dtype(), false));
    }

    /** Reallocates to {@code newCapacity} slots per head, keeping the first {@code stored}. */
    void grow(int newCapacity, int stored) {
        NDArray grown = manager.zeros(new Shape(2, spec.kvHeads(), newCapacity, spec.headDim()), spec.dtype());
        NDArray newKeys = grown.get(0);
        NDArray newValues = grown.get(1);
        NDScope.unregister(grown, newKeys, newValues); // outlive the step scope that triggered the growth
        if (stored > 0) {
            SlotRanges.write(grown, 0, SlotRanges.view(both, 0, stored));
        }
        close();
        both = grown;
        keys = newKeys;
        values = newValues;
        capacity = newCapacity;
    }

    /** A view of the keys of slots {@code [from, to)}, (kvHeads, to - from, headDim). */
    NDArray keys(int from, int to) {
        return SlotRanges.view(keys, from, to);
    }

    /** A view of the values of slots {@code [from, to)}. */
    NDArray values(int from, int to) {
        return SlotRanges.view(values, from, to);
    }

    /** Every allocated key, (kvHeads, capacity, headDim): rows for a compaction's gather. */
    NDArray allKeys() {
        return keys;
    }

    /** Every allocated value, (kvHeads, capacity, headDim). */
    NDArray allValues() {
        return values;
    }

    /** The first {@code width} slots of keys and values, (2, kvHeads, width, headDim): a view. */
    NDArray padded(int width) {
        return width == capacity ? both : SlotRanges.view(both, 0, width);
    }

    /** Views of the first {@code stored} keys and values. */
    List<NDArray> tensors(int stored) {
        return List.of(keys(0, stored), values(0, stored));
    }

    void close() {
        if (both != null) {
            keys.close();
            values.close();
            both.close();
        }
    }
}
