package dev.kvlab.cache;

import ai.djl.ndarray.types.DataType;

/**
 * The frozen shape of a model's KV cache. It owns the byte formula, so every figure kvlab reports
 * (response, metrics, capacity prediction, OOM sweep) comes from one place:
 * {@code 2 × kvHeads × slots × headDim × bytes(dtype)} per layer.
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

    /** What one more token costs a full cache across all layers. */
    public long bytesPerToken() {
        return layers * bytesPerSlot();
    }

    /** What a full (never compressed) cache holds after {@code tokens} tokens. */
    public long fullBytes(long tokens) {
        return tokens * bytesPerToken();
    }
}
