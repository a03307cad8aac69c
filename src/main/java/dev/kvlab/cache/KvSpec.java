package dev.kvlab.cache;

import ai.djl.ndarray.types.DataType;

/**
 * The frozen shape of a model's KV cache. It owns the byte formula, so every figure kvlab reports
 * (response, metrics, capacity prediction, OOM sweep) comes from one place:
 * {@code 2 × kvHeads × slots × headDim × bytes(dtype)} per layer unquantized; with a
 * {@link Quantization}, at most the newest {@link Quantization#windowLimit()} slots at that size and every older slot at
 * {@code 2 × kvHeads × (headDim × bits / 8 + 2 × headDim / groupSize × 2)} (codes, f16 scales and
 * zero points).
 */
public record KvSpec(int layers, int kvHeads, int headDim, DataType dtype) {

    /** Keys plus values of one slot in one layer. */
    public long bytesPerSlot() {
        return 2L * kvHeads * headDim * dtype.getNumOfBytes();
    }

    /** One layer holding {@code slots} slots per head. */
    public long layerBytes(long slots) {
        return slots * bytesPerSlot();
    }

    /**
     * The most one layer holding {@code slots} slots per head stored as {@code q} says takes: its window
     * full ({@link Quantization#windowLimit()}), for memory predictions.
     */
    public long layerBytes(long slots, Quantization q) {
        if (!q.enabled()) {
            return layerBytes(slots);
        }
        long exact = Math.min(slots, q.windowLimit());
        return layerBytes(slots - exact, exact, q);
    }

    /**
     * One layer holding {@code quantized} slots as codes and {@code exact} in the cache dtype: what a
     * cache reports; at most {@link #layerBytes(long, Quantization)} of the same slots.
     */
    public long layerBytes(long quantized, long exact, Quantization q) {
        return layerBytes(exact) + quantized * 2L * kvHeads * q.quantizedRowBytes(headDim);
    }

    /** What one more token costs a full cache across all layers. */
    public long bytesPerToken() {
        return layers * bytesPerSlot();
    }

    /** What a full (never compressed) cache holds after {@code tokens} tokens. */
    public long fullBytes(long tokens) {
        return tokens * bytesPerToken();
    }
}
