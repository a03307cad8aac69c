package dev.kvlab.cache;

/**
 * How many slots attention reads from a layer at once when the policy ignores the probabilities
 * ({@link LayerCache#keys(int, int)}, {@link LayerCache#blockEnd}): a pass's scores, and a quantized
 * layer's dequantized slots, grow with the block rather than with the context. A policy that reads
 * the probabilities needs every score at once and reads the whole layer.
 */
public final class ReadBlocks {
    /** Slots per block for a quantized layer, or for a pass of 8 or more tokens. */
    public static final int READ_BLOCK = 1024;

    private ReadBlocks() {}

    /**
     * The slots a pass of {@code tokens} tokens reads at once: {@link #READ_BLOCK}, or for fewer than
     * 8 tokens over an unquantized layer {@code 8 × READ_BLOCK / tokens}, as many scores, so that a
     * decode step over a few thousand slots runs as one block. A decode step over a quantized layer
     * reads 2 × READ_BLOCK: its dequantized copy then takes what a chunk's scores and its copy take
     * together, and a layer of up to 2048 slots is dequantized in one go.
     */
    public static int slots(long tokens, boolean quantized) {
        if (quantized) {
            return tokens == 1 ? 2 * READ_BLOCK : READ_BLOCK;
        }
        return (int) Math.max(READ_BLOCK, 8L * READ_BLOCK / Math.max(1, tokens));
    }
}
