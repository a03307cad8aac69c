package dev.kvlab.cache;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.cache.policy.CachePolicy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * A request's KV cache: one {@link LayerCache} per layer, the policy that bounds it, and the
 * logical length ({@code seenTokens}) kept apart from what is stored. It owns the request's native
 * memory: closing the cache frees every tensor it holds.
 */
public final class KvCache implements AutoCloseable {
    private final KvSpec spec;
    private final CachePolicy policy;
    private final NDManager manager;
    private final List<LayerCache> layers;
    private long seenTokens;
    private long peakBytes;
    private NDArray mask; // the current forward pass's causal mask, shared by its layers
    private long maskSeen = -1;
    private int maskTokens;
    private int maskStored;

    /**
     * @param manager the request's manager; the cache closes it
     * @param prefillChunk the largest number of tokens appended at once, to size bounded buffers
     */
    public KvCache(KvSpec spec, CachePolicy policy, NDManager manager, int prefillChunk) {
        this(spec, policy, manager, prefillChunk, scoresOnDevice(policy, manager.getDevice()));
    }

    /**
     * @param scoresOnDevice whether the layers add received attention on the device between
     *     compactions ({@link SlotScores}); {@link #scoresOnDevice(CachePolicy, Device)} decides it
     *     for the manager's device
     */
    public KvCache(KvSpec spec, CachePolicy policy, NDManager manager, int prefillChunk, boolean scoresOnDevice) {
        this.spec = spec;
        this.policy = policy;
        this.manager = manager;
        policy.quantization().requireFits(spec.headDim());
        List<LayerCache> list = new ArrayList<>(spec.layers());
        for (int i = 0; i < spec.layers(); i++) {
            int hint = MemoryBudget.fixedSlots(policy, prefillChunk, i, spec.layers());
            list.add(new LayerCache(spec, manager, hint, policy.quantization(), scoresOnDevice));
        }
        this.layers = Collections.unmodifiableList(list);
    }

    /**
     * Whether a cache on {@code device} keeps the policy's summed scores there between compactions: on
     * a GPU, for a policy that adds received attention every step and compacts less often
     * ({@link CachePolicy#keepsScoresOnDevice()}). On a CPU the host's copy of the attention is a
     * memory copy, and the additions in Java cost less than the native calls that replace them.
     */
    public static boolean scoresOnDevice(CachePolicy policy, Device device) {
        return DevicePaths.gpuWay(device) && policy.keepsScoresOnDevice();
    }

    /**
     * Caps every layer's buffers at the slots a request of {@code maxTokens} tokens (prompt and
     * generated) can fill, instead of letting them double past its end: what is allocated then stays
     * within the slots {@link MemoryBudget#kvSlots} counts for the request.
     */
    public void limitSlots(long maxTokens) {
        int limit = (int) Math.min(Integer.MAX_VALUE, Math.max(1, maxTokens));
        layers.forEach(layer -> layer.limitSlots(limit));
    }

    public KvSpec spec() {
        return spec;
    }

    public CachePolicy policy() {
        return policy;
    }

    public NDManager manager() {
        return manager;
    }

    public int layerCount() {
        return layers.size();
    }

    public LayerCache layer(int index) {
        return layers.get(index);
    }

    /** Tokens the model has processed, whether or not they are still stored. */
    public long seenTokens() {
        return seenTokens;
    }

    /**
     * The additive causal mask (tokens, stored) of a pass of {@code tokens} new tokens, the last
     * {@code stored - tokens} slots being older: new token t sees every older slot and the new tokens
     * up to itself. Every layer of one forward pass gets the same array (layers store equally many
     * slots), so a 512-token chunk over a long prompt builds it once, not once per layer.
     */
    public NDArray causalMask(int tokens, int stored) {
        if (mask != null && maskSeen == seenTokens && maskTokens == tokens && maskStored == stored) {
            return mask;
        }
        if (mask != null) {
            mask.close();
        }
        float[] m = new float[tokens * stored];
        int offset = stored - tokens;
        for (int t = 0; t < tokens; t++) {
            Arrays.fill(m, t * stored + offset + t + 1, (t + 1) * stored, Float.NEGATIVE_INFINITY);
        }
        mask = HostArrays.floats(manager, m, new Shape(tokens, stored));
        NDScope.unregister(mask); // outlives the step scope of the layer that made it
        maskSeen = seenTokens;
        maskTokens = tokens;
        maskStored = stored;
        return mask;
    }

    /** Forgets what a failed forward pass staged in every layer ({@link LayerCache#discardStaged}). */
    public void discardStaged() {
        layers.forEach(LayerCache::discardStaged);
    }

    /** Called once all layers have taken in {@code tokens} new tokens. */
    public void advance(int tokens) {
        seenTokens += tokens;
    }

    /** Called after appends, before compaction, so the transient budget + chunk peak is counted. */
    public void recordPeak() {
        peakBytes = Math.max(peakBytes, bytes());
    }

    public long bytes() {
        long total = 0;
        for (LayerCache layer : layers) {
            total += layer.bytes();
        }
        return total;
    }

    public long allocatedBytes() {
        long total = 0;
        for (LayerCache layer : layers) {
            total += layer.allocatedBytes();
        }
        return total;
    }

    /** Slots per head in the fullest layer. */
    public int storedTokens() {
        int max = 0;
        for (LayerCache layer : layers) {
            max = Math.max(max, layer.stored());
        }
        return max;
    }

    public CacheStats stats() {
        long full = spec.fullBytes(seenTokens);
        long bytes = bytes();
        long perSlotEvents = (long) spec.layers() * spec.kvHeads();
        long evicted = 0;
        long merged = 0;
        for (LayerCache layer : layers) {
            evicted += layer.evictedSlots();
            merged += layer.mergedSlots();
        }
        double ratio = full == 0 ? 0.0 : 1.0 - (double) bytes / full;
        return new CacheStats(policy.name(), policy.params(), seenTokens, storedTokens(), bytes,
                Math.max(peakBytes, bytes), full, ratio, evicted / perSlotEvents, merged / perSlotEvents);
    }

    @Override
    public void close() {
        if (mask != null) {
            mask.close();
        }
        layers.forEach(LayerCache::close);
        manager.close();
    }
}
