package dev.kvlab.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One layer's keys and values, shaped (kvHeads, stored, headDim), plus per head and slot the
 * original position, the merge count {@code n} and two policy channels ({@link SlotScores}). The
 * tensors live in a device {@link KeyValueBuffer} and the metadata in a {@link SlotTable} of host
 * arrays, both with one capacity that doubles when full: appending a token writes only its own slots
 * (amortized O(1)), and a compaction rewrites them in place. Policies decide in Java on the
 * metadata; only the final gather or merge touches the device. Merge counts and their bias are kept
 * by {@link SlotMerges}.
 *
 * <p>With a {@link Quantization}, keys and values live in two {@link QuantizedSlots} instead of the
 * buffer, and every read dequantizes them (a few native ops per layer and step). A compaction works
 * on the dequantized slots; slots that stay quantized keep their codes, and a merged slot is averaged
 * in full precision, then quantized once ({@link QuantizedSlots#compact}).
 */
public final class LayerCache {
    private final KvSpec spec;
    private final NDManager manager;
    private final int capacityHint;
    private int slotLimit = Integer.MAX_VALUE; // growth stops here: the most slots its request can fill
    private final Quantization quantization;
    private final KeyValueBuffer buffer; // null when quantized
    private final QuantizedSlots quantizedKeys; // null unless quantized
    private final QuantizedSlots quantizedValues;
    private int capacity;
    private int staged; // slots written after the stored ones, not yet committed

    private final SlotTable slots;
    private final SlotMerges merges;
    private final SlotScores scores;

    /**
     * @param capacityHint slots to allocate at the first append (a bounded policy passes budget +
     *     prefill chunk so its buffer never grows); 0 for a buffer that grows, from the first chunk's size
     * @param scoresOnDevice whether received attention adds up on the device ({@link SlotScores})
     */
    LayerCache(KvSpec spec, NDManager manager, int capacityHint, Quantization quantization, boolean scoresOnDevice) {
        this.spec = spec;
        this.manager = manager;
        this.capacityHint = capacityHint;
        this.quantization = quantization;
        this.buffer = quantization.enabled() ? null : new KeyValueBuffer(spec, manager);
        this.quantizedKeys = quantization.enabled() ? new QuantizedSlots(spec, quantization, manager) : null;
        this.quantizedValues = quantization.enabled() ? new QuantizedSlots(spec, quantization, manager) : null;
        this.slots = new SlotTable(spec.kvHeads());
        this.merges = new SlotMerges(slots);
        this.scores = new SlotScores(slots, manager, scoresOnDevice);
    }

    /**
     * Writes the keys and values of {@code tokens} new tokens after the stored slots without storing
     * them yet: {@link #keys()} and {@link #values()} include them, so attention can run over them,
     * but nothing else changes until {@link #commit}. A forward pass that fails part-way calls
     * {@link #discardStaged()} and leaves the layer as it was.
     *
     * @param keys (kvHeads, tokens, headDim), in the cache dtype
     */
    public void stage(NDArray keys, NDArray values) {
        if (quantizedKeys == null) {
            stageKeyValues(keys.stack(values, 0));
            return;
        }
        int tokens = (int) keys.getShape().get(1);
        staged = 0;
        ensureCapacity(stored() + tokens);
        quantizedKeys.write(stored(), keys);
        quantizedValues.write(stored(), values);
        staged = tokens;
    }

    /**
     * {@link #stage} for keys and values in one tensor, one native write (a grouped decode step's).
     *
     * @param keyValues (2, kvHeads, tokens, headDim), keys then values, in the cache dtype
     */
    public void stageKeyValues(NDArray keyValues) {
        if (quantizedKeys != null) {
            throw new IllegalStateException("a quantized layer stages keys and values apart");
        }
        int tokens = (int) keyValues.getShape().get(2);
        staged = 0;
        ensureCapacity(stored() + tokens);
        buffer.write(stored(), keyValues);
        staged = tokens;
    }

    /**
     * Stores the staged slots (original positions from {@code firstPosition} on, count 1, scores 0).
     */
    public void commit(int firstPosition) {
        slots.append(firstPosition, staged);
        staged = 0;
        if (quantizedKeys != null) {
            quantizedKeys.settle(stored());
            quantizedValues.settle(stored());
        }
    }

    /** Stops the buffers' growth at {@code limit} slots (a longer append still gets its room). */
    void limitSlots(int limit) {
        slotLimit = limit;
        if (quantizedKeys != null) {
            quantizedKeys.limitSlots(limit);
            quantizedValues.limitSlots(limit);
        }
    }

    /** Grows the buffers to hold {@code slots} slots now, at most to its fixed size or its request's slots. */
    public void reserve(int slots) {
        ensureCapacity(Math.min(slots, capacityHint > 0 ? capacityHint : slotLimit));
    }

    /** Forgets staged slots: the buffer past the stored slots is free space again. */
    public void discardStaged() {
        staged = 0;
    }

    /** {@link #stage} then {@link #commit}: appends {@code tokens} new slots at once. */
    public void append(NDArray keys, NDArray values, int firstPosition) {
        stage(keys, values);
        commit(firstPosition);
    }

    private void ensureCapacity(int needed) {
        if (needed <= capacity) {
            return;
        }
        int next = capacity == 0 ? Math.max(capacityHint, 16) : capacity * 2;
        int newCapacity = Math.max(needed, Math.min(slotLimit, next));
        if (buffer != null) { // the quantized stores grow as slots leave their windows
            buffer.grow(newCapacity, stored());
        }
        capacity = newCapacity;
        slots.reserve(newCapacity);
    }

    /** A view of the stored keys and any staged ones, (kvHeads, stored + staged, headDim). */
    public NDArray keys() {
        return keys(0, slots());
    }

    /** A view of the stored values and any staged ones, (kvHeads, stored + staged, headDim). */
    public NDArray values() {
        return values(0, slots());
    }

    /**
     * Where the block that a pass of {@code tokens} tokens reads from slot {@code from} on ends
     * ({@link ReadBlocks#slots}): earlier at the edge between a quantized layer's codes and its
     * window, so that a block is one view or one dequantized range, never joined from both.
     */
    public int blockEnd(int from, int tokens) {
        int end = Math.min(slots(), from + ReadBlocks.slots(tokens, quantizedKeys != null));
        int coded = quantizedKeys != null ? quantizedKeys.quantized() : 0;
        return from < coded ? Math.min(end, coded) : end;
    }

    /** Keys of slots {@code [from, to)} of {@link #keys()}: a view, or those slots alone dequantized. */
    public NDArray keys(int from, int to) {
        return quantizedKeys != null ? quantizedKeys.read(from, to) : buffer.keys(from, to);
    }

    /** Values of slots {@code [from, to)} of {@link #values()}. */
    public NDArray values(int from, int to) {
        return quantizedValues != null ? quantizedValues.read(from, to) : buffer.values(from, to);
    }

    /**
     * The first {@code width} slots of the key and value buffer, (2, kvHeads, width, headDim): a view,
     * for attending over several caches at once. Slots from {@link #slots()} on hold no key of this
     * cache (stale rows or zeros) and must be masked, see {@link #fillAttentionBias}. Unquantized
     * layers only.
     *
     * @param width at least {@link #slots()}, at most the buffer's {@link #slotCapacity()}
     */
    public NDArray paddedKeyValues(int width) {
        if (quantizedKeys != null || width < slots() || width > capacity) {
            throw new IllegalArgumentException("width " + width + " for " + slots() + " slots in a buffer of "
                    + capacity + (quantizedKeys != null ? " quantized" : ""));
        }
        return buffer.padded(width);
    }

    /**
     * Writes this layer's additive attention bias over {@code width} slots into
     * {@code bias[offset + h·width + s]}: {@code log n} for stored slots (0 when unmerged), 0 for
     * staged ones, negative infinity from {@link #slots()} on, so padded slots get no attention.
     */
    public void fillAttentionBias(float[] bias, int offset, int width) {
        int slots = slots();
        for (int h = 0; h < spec.kvHeads(); h++) {
            int row = offset + h * width;
            if (merges.any()) {
                merges.fillLogCounts(bias, row, h);
            }
            Arrays.fill(bias, row + slots, row + width, Float.NEGATIVE_INFINITY);
        }
    }

    /** Whether any slot stands for more than one token (then {@link #logCountBias} is not all zeros). */
    public boolean hasMergedSlots() {
        return merges.any();
    }

    /** Stored plus staged slots: the length of {@link #keys()}. */
    public int slots() {
        return stored() + staged;
    }

    /**
     * The proportional-attention bias {@code log n}, shaped (kvHeads, 1, 1, stored + staged) to
     * broadcast over query heads and rows (0 for staged slots), or null while no slot is merged (then
     * the bias is all zeros).
     */
    public NDArray logCountBias(DataType dtype) {
        if (!merges.any()) {
            return null;
        }
        int slots = slots();
        float[] flat = new float[spec.kvHeads() * slots];
        fillAttentionBias(flat, 0, slots);
        return manager.create(flat, new Shape(spec.kvHeads(), 1, 1, slots)).toType(dtype, false);
    }

    /**
     * Applies a policy's decision: drops slots, or folds them into others as count-weighted means. Each
     * new slot first takes its representative's row, selected from the cache seen as (kvHeads·capacity,
     * headDim) (whole rows copied; a gather along the slot axis with a broadcast index measured twice as
     * slow); then the few targets that absorbed other slots are overwritten with the mean of their
     * sources, one small matmul, so a step that merges one slot does not rescale the whole cache.
     */
    public void compact(CompactionPlan plan) {
        int newStored = plan.newStored();
        boolean quantized = quantizedKeys != null;
        int stride = quantized ? stored() : capacity; // slots per head in the layout rows are taken from
        NDArray keys = (quantized ? quantizedKeys.read(0, stored()) : buffer.allKeys()).reshape(-1, spec.headDim());
        NDArray values = (quantized ? quantizedValues.read(0, stored()) : buffer.allValues()).reshape(-1,
                spec.headDim());
        NDArray rows = manager.create(plan.rows(stride));
        NDArray newKeys = keys.get(rows); // (kvHeads·newStored, d)
        NDArray newValues = values.get(rows);
        long[] mergedRows = plan.merges() ? foldMerged(plan, stride, keys, values, newKeys, newValues) : new long[0];
        Shape shape = new Shape(spec.kvHeads(), newStored, spec.headDim());
        if (quantized) {
            quantizedKeys.compact(newKeys.reshape(shape), plan.keep(), mergedRows);
            quantizedValues.compact(newValues.reshape(shape), plan.keep(), mergedRows);
        } else {
            buffer.write(0, newKeys.reshape(shape).stack(newValues.reshape(shape), 0));
        }
        scores.compact(plan);
        merges.compact(plan);
    }

    /** Overwrites every target that absorbed other slots with the count-weighted mean of its sources; returns their rows. */
    private long[] foldMerged(CompactionPlan plan, int stride, NDArray keys, NDArray values, NDArray newKeys,
            NDArray newValues) {
        MergeWeights m = merges.weights(plan, stride);
        if (m.targets() == 0) {
            return new long[0];
        }
        NDArray from = manager.create(m.sourceRows());
        NDArray w = HostArrays.floats(manager, m.weights(), new Shape(m.targets(), m.sources()))
                .toType(spec.dtype(), false);
        NDIndex to = new NDIndex("{}", manager.create(m.targetRows()));
        newKeys.set(to, w.matMul(keys.get(from)));
        newValues.set(to, w.matMul(values.get(from)));
        return m.targetRows();
    }

    public int stored() {
        return slots.length();
    }

    /** Bytes the stored slots occupy (the allocated buffer may be larger, see {@link #allocatedBytes()}). */
    public long bytes() {
        return quantizedKeys == null ? spec.layerBytes(stored())
                : spec.layerBytes(quantizedKeys.quantized(), stored() - quantizedKeys.quantized(), quantization);
    }

    /** Device bytes the layer holds: its key and value buffers (or quantized stores) and any device scores. */
    public long allocatedBytes() {
        long kv = quantizedKeys != null ? quantizedKeys.allocatedBytes() + quantizedValues.allocatedBytes()
                : spec.layerBytes(capacity);
        return kv + scores.allocatedBytes();
    }

    /** Views of the tensors holding the stored slots (with quantization: codes, scales, zeros, windows); sizes sum to {@link #bytes()}. */
    public List<NDArray> storedTensors() {
        if (quantizedKeys != null) {
            List<NDArray> all = new ArrayList<>(quantizedKeys.tensors(stored()));
            all.addAll(quantizedValues.tensors(stored()));
            return all;
        }
        return buffer.tensors(stored());
    }

    /** Original token position of each stored slot of {@code head}: a copy, (stored). */
    public int[] positions(int head) {
        return Arrays.copyOf(slots.positions(head), stored());
    }

    /** How many tokens each stored slot of {@code head} stands for (1 unless merged): a copy, (stored). */
    public float[] counts(int head) {
        return Arrays.copyOf(slots.counts(head), stored());
    }

    /** The policy's per-slot scores, which compaction moves and merging combines. */
    public SlotScores scores() {
        return scores;
    }

    /** The shape of the model's cache this layer belongs to. */
    public KvSpec spec() {
        return spec;
    }

    /** Slots allocated per head for the metadata; the device buffers hold the same number. */
    public int slotCapacity() {
        return slots.capacity();
    }

    long evictedSlots() {
        return merges.evicted();
    }

    long mergedSlots() {
        return merges.merged();
    }

    /** Frees the device buffers; the cache is unusable afterwards. */
    void close() {
        scores.close();
        if (quantizedKeys != null) {
            quantizedKeys.close();
            quantizedValues.close();
        } else {
            buffer.close();
        }
    }
}
