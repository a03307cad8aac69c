package dev.kvlab.cache;

import dev.kvlab.cache.policy.PolicyException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How a cache stores its keys and values: in the cache dtype ({@link #NONE}), or as {@code bits}-bit
 * codes with a scale and a zero point per group of {@code groupSize} numbers along the head dimension,
 * one set per slot and KV head (see {@link GroupQuantizer}). The newest {@code residual} slots of a
 * layer stay in the cache dtype and are quantized as they leave that window, {@link #FLUSH_SLOTS} at a
 * time (so up to {@link #windowLimit()} wait there), so the tokens attention weighs most are exact (after an eviction the window may hold fewer until new tokens refill it: a
 * slot is quantized once and never taken back out of its codes). It composes with every policy: a slot's codes need no other slot, so
 * eviction gathers slots as it does unquantized ones.
 *
 * @param bits 0 (none), 8 or 4
 * @param groupSize numbers sharing one scale and zero point; divides the head dimension
 * @param residual newest slots per layer kept in the cache dtype
 */
public record Quantization(int bits, int groupSize, int residual) {

    public static final int DEFAULT_GROUP_SIZE = 32;
    public static final int DEFAULT_RESIDUAL = 32;
    /** Keys and values in the cache dtype. */
    public static final Quantization NONE = new Quantization(0, DEFAULT_GROUP_SIZE, DEFAULT_RESIDUAL);
    /** Slots that leave the window at once: the window holds {@code residual} to {@code residual + 31} slots. */
    public static final int FLUSH_SLOTS = 32;
    /** Bytes of one stored scale or zero point (f16). */
    static final int METADATA_BYTES = 2;

    public Quantization {
        if (bits != 0 && bits != 4 && bits != 8) {
            throw new IllegalArgumentException("bits must be 0, 4 or 8, got " + bits);
        }
        if (groupSize < 1 || residual < 0) {
            throw new IllegalArgumentException("group size must be >= 1 and residual >= 0");
        }
    }

    /** The request name: {@code none}, {@code int8} or {@code int4}. */
    public String apiName() {
        return bits == 0 ? "none" : "int" + bits;
    }

    public boolean enabled() {
        return bits > 0;
    }

    /** The most slots a layer's window holds in the cache dtype: {@code residual + FLUSH_SLOTS − 1}. */
    public int windowLimit() {
        return residual + FLUSH_SLOTS - 1;
    }

    /** The largest code, {@code 2^bits − 1}. */
    /**
     * Copies of a dequantized range alive at once while {@link GroupQuantizer#dequantize} runs, in units
     * of the range in the cache dtype: int8 scales its codes in place (one), int4 also unpacks nibbles
     * into a second array (two).
     */
    public int dequantizedCopies() {
        return bits == 4 ? 2 : 1;
    }

    int levels() {
        return (1 << bits) - 1;
    }

    /**
     * The {@code kv_cache.params} entries: none when off, otherwise the scheme and its two sizes.
     */
    public Map<String, Object> params() {
        Map<String, Object> p = new LinkedHashMap<>();
        if (enabled()) {
            p.put("quantization", apiName());
            p.put("group_size", groupSize);
            p.put("residual", residual);
        }
        return p;
    }

    /**
     * @throws PolicyException naming {@code group_size} when it does not divide {@code headDim}
     */
    public void requireFits(int headDim) {
        if (enabled() && (headDim % groupSize != 0 || (bits == 4 && groupSize % 2 != 0))) {
            throw new PolicyException("group_size", "must divide the model's head dimension " + headDim
                    + (bits == 4 ? " and be even for int4" : "") + ", got " + groupSize);
        }
    }

    /** Bytes of one quantized slot of one KV head for keys or for values: codes, scales and zero points. */
    long quantizedRowBytes(int headDim) {
        return (long) headDim * bits / 8 + 2L * (headDim / groupSize) * METADATA_BYTES;
    }
}
