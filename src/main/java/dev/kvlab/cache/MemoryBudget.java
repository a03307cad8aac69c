package dev.kvlab.cache;

import dev.kvlab.cache.policy.BoundedPolicy;
import dev.kvlab.cache.policy.CachePolicy;

/**
 * The memory one sequence takes, in the one formula that admission, {@code GET /capacity} and the
 * {@code oom-sweep} experiment share, so that the server and its experiments predict the same limit
 * for the same policy: the weights, the KV cache's exact bytes ({@link KvSpec}) and an allowance for
 * the temporaries of the largest forward pass ({@link Activations}).
 *
 * <p>Slots per head per layer that a cache of {@code T} tokens allocates at most: a {@code full}
 * cache {@code T}; a fixed {@code budget} its {@link CachePolicy#maxSlots(int, int)} plus one prefill chunk
 * (a chunk is appended before the policy compacts), whatever {@code T}; a {@code budget_ratio} its
 * budget at {@code T}, the slots that may wait for a compaction ({@code compact_every − 1}) and a
 * chunk, at most {@code T}. A forward pass attends over at most those slots, so they are also the
 * keys its activations are counted for, up to {@link ReadBlocks#slots} when the policy does not
 * read the probabilities (attention then reads the cache in blocks). A quantized cache
 * ({@link Quantization}) counts its stored bytes, and its activations the keys and values dequantized
 * for attention at once.
 */
public final class MemoryBudget {

    /** Longer than any sequence: the length a fixed-budget cache is sized for. */
    private static final long LONGEST = 1L << 40;

    /**
     * The temporaries of one forward pass of {@code n} new tokens over {@code k} keys:
     * {@code n × bytesPerToken + n × k × bytesPerTokenKey + logitsBytes}.
     *
     * @param bytesPerToken hidden states of one new token (QKV, MLP, residuals)
     * @param bytesPerTokenKey attention scores and probabilities of one new token for one key
     * @param logitsBytes the last position's logits
     */
    public record Activations(long bytesPerToken, long bytesPerTokenKey, long logitsBytes) {

        /** Hidden-state copies per new token, in hidden-size × dtype units (QKV, MLP, residuals). */
        static final int HIDDEN_STATE_COPIES = 12;

        /**
         * The allowance from tensor shapes: {@link #HIDDEN_STATE_COPIES} hidden states in the compute dtype,
         * f32 scores and probabilities per query head, and f32 logits on the device and on the host.
         */
        public static Activations fromShapes(int hiddenSize, int queryHeads, int vocabSize, int dtypeBytes) {
            return new Activations((long) hiddenSize * HIDDEN_STATE_COPIES * dtypeBytes,
                    2L * Float.BYTES * queryHeads, 2L * Float.BYTES * vocabSize);
        }

        public long bytes(long newTokens, long keys) {
            return newTokens * bytesPerToken + newTokens * bytesPerTokenKey * keys + logitsBytes;
        }
    }

    /**
     * What one sequence needs beyond the weights.
     *
     * @param kvSlots slots per head the cache's largest layer allocates at most
     * @param kvBytes every layer's slots, in bytes
     * @param activationBytes the temporaries of its largest forward pass
     */
    public record Footprint(long kvSlots, long kvBytes, long activationBytes) {
        public long requiredBytes() {
            return kvBytes + activationBytes;
        }
    }

    private final KvSpec spec;
    private final long weightsBytes;
    private final int prefillChunk;
    private final Activations activations;
    private final boolean gpu;

    /**
     * @param weightsBytes the model's weights in the compute dtype
     * @param prefillChunk the most tokens one forward pass feeds ({@code kvlab.prefill.chunk})
     */
    public MemoryBudget(KvSpec spec, long weightsBytes, int prefillChunk, Activations activations) {
        this(spec, weightsBytes, prefillChunk, activations, false);
    }

    private MemoryBudget(KvSpec spec, long weightsBytes, int prefillChunk, Activations activations, boolean gpu) {
        if (prefillChunk < 1) {
            throw new IllegalArgumentException("prefill chunk must be >= 1, got " + prefillChunk);
        }
        this.spec = spec;
        this.weightsBytes = weightsBytes;
        this.prefillChunk = prefillChunk;
        this.activations = activations;
        this.gpu = gpu;
    }

    /** The same budget with another activation allowance (e.g. one measured on this machine). */
    public MemoryBudget withActivations(Activations measured) {
        return new MemoryBudget(spec, weightsBytes, prefillChunk, measured, gpu);
    }

    /**
     * The same budget for caches on a GPU, where a policy's summed scores may stay on the device
     * ({@link KvCache#scoresOnDevice}): their f32 per head and slot count with the cache.
     */
    public MemoryBudget onGpu() {
        return new MemoryBudget(spec, weightsBytes, prefillChunk, activations, true);
    }

    public KvSpec spec() {
        return spec;
    }

    public long weightsBytes() {
        return weightsBytes;
    }

    public int prefillChunk() {
        return prefillChunk;
    }

    public Activations activations() {
        return activations;
    }

    /**
     * The slots per head that layer {@code layer} of a fixed-budget cache allocates once, whatever the
     * length: its most slots between compactions and one chunk appended before the next; 0 when the
     * cache grows instead.
     */
    public static int fixedSlots(CachePolicy policy, int prefillChunk, int layer, int layers) {
        return hasFixedBudget(policy) ? policy.maxSlots(layer, layers) + prefillChunk : 0;
    }

    /** Slots per head that layer {@code layer} allocates at most for a sequence of {@code tokens} tokens. */
    public long kvSlots(CachePolicy policy, long tokens, int layer) {
        int fixed = fixedSlots(policy, prefillChunk, layer, spec.layers());
        if (fixed > 0) {
            return fixed;
        }
        if (policy instanceof BoundedPolicy ratio) {
            long waiting = ratio.compactEvery() - 1L;
            return Math.min(tokens, ratio.budgetAt(layer, spec.layers(), tokens) + waiting + prefillChunk);
        }
        return tokens;
    }

    /** Slots per head of the largest layer for a sequence of {@code tokens} tokens (see {@link #kvSlots(CachePolicy, long, int)}). */
    public long kvSlots(CachePolicy policy, long tokens) {
        long most = 0;
        for (int l = 0; l < spec.layers(); l++) {
            most = Math.max(most, kvSlots(policy, tokens, l));
        }
        return most;
    }

    /**
     * The bytes of every layer's {@link #kvSlots(CachePolicy, long, int)} (layers may hold budgets of
     * their own), with the f32 scores a GPU keeps beside them for the policy.
     */
    public long kvBytes(CachePolicy policy, long tokens) {
        long scoreBytes = gpu && policy.keepsScoresOnDevice() ? (long) spec.kvHeads() * Float.BYTES : 0;
        long bytes = 0;
        for (int l = 0; l < spec.layers(); l++) {
            long slots = kvSlots(policy, tokens, l);
            bytes += spec.layerBytes(slots, policy.quantization()) + slots * scoreBytes;
        }
        return bytes;
    }

    /** The temporaries of one forward pass of {@code newTokens} tokens over {@code keys} keys. */
    public long activationBytes(long newTokens, long keys) {
        return activations.bytes(newTokens, keys);
    }

    /**
     * What a sequence of {@code promptTokens + newTokens} tokens needs at its largest: its cache's slots
     * and the pass of one prefill chunk (or the whole prompt when shorter) over all of them.
     *
     * @throws dev.kvlab.cache.policy.PolicyException naming {@code group_size} when the policy's
     *     quantization groups do not divide the head dimension
     */
    public Footprint footprint(CachePolicy policy, long promptTokens, long newTokens) {
        policy.quantization().requireFits(spec.headDim());
        long tokens = promptTokens + newTokens;
        long slots = kvSlots(policy, tokens);
        long chunk = Math.max(1, Math.min(prefillChunk, promptTokens));
        long keys = Math.min(slots, tokens);
        long largestPass = Math.max(passBytes(policy, chunk, keys), passBytes(policy, 1, keys));
        return new Footprint(slots, kvBytes(policy, tokens), largestPass);
    }

    /**
     * The temporaries of one forward pass of {@code newTokens} tokens over {@code keys} keys under
     * {@code policy}: attention reads at most {@link ReadBlocks#slots} keys at once unless the
     * policy reads the probabilities. A quantized cache dequantizes the keys and values it reads in
     * {@link Quantization#dequantizedCopies()}; read whole, its codes and window are joined, one copy
     * more (a block holds codes or window, never both). A decode step of an unquantized cache shorter
     * than a read block may attend in a batch's group, which stacks its layer padded to at most twice
     * its length without copying its buffer ({@code CachedAttention.stackable}): two layers of its
     * length, counted up to the block whatever the length, so that footprints grow with the length.
     */
    public long passBytes(CachePolicy policy, long newTokens, long keys) {
        boolean whole = policy.observesAttention();
        Quantization q = policy.quantization();
        long atOnce = whole ? keys : Math.min(keys, ReadBlocks.slots(newTokens, q.enabled()));
        long copies = q.enabled() ? q.dequantizedCopies() + (whole ? 1 : 0) : 0;
        long bytes = activationBytes(newTokens, atOnce) + copies * spec.layerBytes(atOnce);
        if (newTokens == 1 && !q.enabled()) { // a batched decode step stacks a short layer padded to twice its length
            bytes += 2 * spec.layerBytes(Math.min(keys, ReadBlocks.READ_BLOCK));
        }
        return bytes;
    }

    /**
     * What a policy whose cache never grows needs for a sequence of any length, or null when its cache
     * grows with the text ({@code full}, {@code budget_ratio}).
     */
    public Long fixedBytes(CachePolicy policy) {
        return hasFixedBudget(policy) ? footprint(policy, prefillChunk, LONGEST).requiredBytes() : null;
    }

    /**
     * The most tokens (prompt + generated) whose {@link #footprint} fits {@code availableBytes}, or -1 when
     * the cache never grows and fits (any length does).
     */
    public long maxTokens(CachePolicy policy, long availableBytes) {
        Long fixed = fixedBytes(policy);
        if (fixed != null) {
            return fixed <= availableBytes ? -1 : 0;
        }
        long lo = 0;
        long hi = LONGEST;
        while (lo < hi) { // the largest length that fits; footprints grow with the length
            long mid = (lo + hi + 1) >>> 1;
            if (footprint(policy, mid, 0).requiredBytes() <= availableBytes) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /** Whether the policy's cache stops growing at a fixed number of slots (a fixed {@code budget}). */
    private static boolean hasFixedBudget(CachePolicy policy) {
        return policy.hasFixedBudget();
    }

    /** {@link #maxTokens} under a limit that holds the weights too ({@code kvlab.memory.limit}). */
    public long maxTokensUnder(CachePolicy policy, long limitBytes) {
        return maxTokens(policy, limitBytes - weightsBytes);
    }
}
