package dev.kvlab.serving;

import dev.kvlab.cache.KvSpec;
import dev.kvlab.cache.policy.BoundedPolicy;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.metrics.GenerationMetrics;
import dev.kvlab.model.ModelConfig;
import dev.kvlab.model.TransformerModel;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;
import org.springframework.util.unit.DataSize;

/**
 * Predicts the memory a generation needs before it is admitted, and how much is free for it, so a
 * request that cannot fit is refused with 507 instead of failing mid-way (DESIGN §5). The KV part is
 * exact ({@link KvSpec}): a {@code full} cache holds prompt + new tokens; a policy with a fixed budget
 * allocates budget + one prefill chunk slots once and never grows; a {@code budget_ratio} policy holds
 * its share of the tokens plus a chunk. Activations are an estimate of one forward pass's temporaries
 * (hidden states, attention scores over the cached keys, logits).
 *
 * <p>Free memory is the tighter of two bounds: {@code kvlab.memory.limit} minus the weights and the
 * bytes reserved by running requests ({@code budget}), and what the device can still allocate minus
 * the part of those reservations the running requests have not used yet ({@code device}).
 *
 * <p>On a GPU the device bound is tracked, not read: {@code cudaMemGetInfo} counts the blocks
 * PyTorch's caching allocator keeps after a request as used, so after one large request every later
 * one would look unfittable (a spurious 507). The GPU's use is read once, when the guard is made
 * after the model has loaded (CUDA context, weights, other processes then), and from then on the
 * device bound is its total minus that baseline minus the running requests' reservations. Memory
 * another process takes later is not seen; a real out-of-memory is still caught, counted and
 * answered 507, and PyTorch's cache is emptied then.
 */
@Component
class MemoryGuard {

    /** Activation bytes per token of a chunk, in units of hidden size × dtype bytes (QKV, MLP, residuals). */
    private static final int HIDDEN_STATE_COPIES = 12;

    private final KvSpec spec;
    private final ModelConfig config;
    private final int dtypeBytes;
    private final long weightsBytes;
    private final int prefillChunk;
    private final Long limitBytes;
    private final DeviceMemoryProbe device;
    private final Long gpuBaselineBytes; // the GPU's use once the model is loaded; null on a CPU

    @Autowired
    MemoryGuard(TransformerModel model, DeviceMemoryProbe device, KvlabProperties properties) {
        this(model.kvSpec(), model.config(), model.parameterCount() * model.dtype().getNumOfBytes(),
                properties.prefill().chunk(), properties.memory().limit(), device);
    }

    MemoryGuard(KvSpec spec, ModelConfig config, long weightsBytes, int prefillChunk, DataSize limit,
            DeviceMemoryProbe device) {
        this.spec = spec;
        this.config = config;
        this.dtypeBytes = spec.dtype().getNumOfBytes();
        this.weightsBytes = weightsBytes;
        this.prefillChunk = prefillChunk;
        this.limitBytes = limit == null ? null : limit.toBytes();
        this.device = device;
        this.gpuBaselineBytes = device.isGpu() ? device.snapshot().usedBytes() : null;
    }

    /** What the device could still give kvlab with nothing reserved: tracked on a GPU, read on a CPU. */
    private long deviceFree() {
        return gpuBaselineBytes != null ? Math.max(0, device.totalBytes() - gpuBaselineBytes) : device.availableBytes();
    }

    /**
     * What one generation needs.
     *
     * @param kvSlots slots per head per layer the cache will allocate at most
     * @param kvBytes those slots in bytes, over all layers
     * @param activationBytes estimated temporaries of the largest forward pass
     */
    record Prediction(long kvSlots, long kvBytes, long activationBytes) {
        long requiredBytes() {
            return kvBytes + activationBytes;
        }
    }

    /**
     * Free memory for a new request.
     *
     * @param availableBytes the tighter of the two bounds
     * @param limitedBy which bound that is
     */
    record Availability(long availableBytes, GenerationMetrics.Source limitedBy) {}

    long kvBytesPerToken() {
        return spec.bytesPerToken();
    }

    long weightsBytes() {
        return weightsBytes;
    }

    /** {@code kvlab.memory.limit} in bytes, or null when unset. */
    Long limitBytes() {
        return limitBytes;
    }

    String deviceName() {
        return device.deviceName();
    }

    Prediction predict(CachePolicy policy, long promptTokens, long maxNewTokens) {
        long tokens = promptTokens + maxNewTokens;
        long slots;
        if (policy.hasFixedBudget()) {
            slots = (long) policy.maxSlots() + prefillChunk; // allocated once, whatever the length
        } else if (policy instanceof BoundedPolicy ratio) {
            slots = Math.min(tokens, (long) ratio.budgetAt(tokens) + prefillChunk);
        } else {
            slots = tokens;
        }
        long chunk = Math.max(1, Math.min(prefillChunk, promptTokens));
        long keys = Math.min(slots, tokens) + chunk;
        long activations = chunk * config.hiddenSize() * HIDDEN_STATE_COPIES * dtypeBytes
                + 2L * Float.BYTES * config.numHeads() * chunk * keys // scores and probabilities, f32
                + 2L * Float.BYTES * config.vocabSize(); // last logits, device and host copies
        return new Prediction(slots, spec.layers() * spec.bytesPerSlot() * slots, activations);
    }

    /**
     * Free memory for a new reservation now.
     *
     * @param reservedBytes reserved by the requests running now
     * @param liveBytes of that, what their caches hold already (and the device already counts as used)
     */
    Availability available(long reservedBytes, long liveBytes) {
        long best = Long.MAX_VALUE;
        GenerationMetrics.Source bound = GenerationMetrics.Source.DEVICE;
        if (limitBytes != null) {
            best = limitBytes - weightsBytes - reservedBytes;
            bound = GenerationMetrics.Source.BUDGET;
        }
        // a CPU reading already counts what running caches hold (liveBytes); the GPU's tracked figure counts none
        long onDevice = gpuBaselineBytes != null ? deviceFree() - reservedBytes
                : deviceFree() - Math.max(0, reservedBytes - liveBytes);
        if (onDevice < best) {
            best = onDevice;
            bound = GenerationMetrics.Source.DEVICE;
        }
        return new Availability(Math.max(0, best), bound);
    }

    /**
     * Free memory for a request if it ran alone: what the running requests' caches hold counts as free,
     * since they give it back when they end. A request that does not fit this is refused (507) rather
     * than queued.
     */
    Availability capacity(long liveBytesOfRunning) {
        Availability now = available(0, 0);
        if (now.limitedBy() == GenerationMetrics.Source.BUDGET) {
            return now;
        }
        long onDevice = gpuBaselineBytes != null ? deviceFree() : deviceFree() + liveBytesOfRunning;
        return limitBytes != null && limitBytes - weightsBytes < onDevice
                ? new Availability(Math.max(0, limitBytes - weightsBytes), GenerationMetrics.Source.BUDGET)
                : new Availability(onDevice, GenerationMetrics.Source.DEVICE);
    }

    /** {@link AdmissionControl.Memory}: the bytes free for a new reservation. */
    long availableBytes(long reservedBytes, long liveBytes) {
        return available(reservedBytes, liveBytes).availableBytes();
    }

    /** What a fixed-budget ({@link CachePolicy#hasFixedBudget}) policy needs for a sequence of any length. */
    long boundedBytes(CachePolicy policy) {
        return predict(policy, prefillChunk, 1L << 40).requiredBytes();
    }

    /**
     * The most tokens (prompt + generated) a {@code policy} cache fits in {@code availableBytes}, or -1
     * when its memory does not grow with the length and it fits (unbounded length).
     */
    long maxTokens(CachePolicy policy, long availableBytes) {
        if (policy.hasFixedBudget()) {
            return boundedBytes(policy) <= availableBytes ? -1 : 0;
        }
        long lo = 0;
        long hi = 1L << 40;
        while (lo < hi) { // the largest length whose prediction fits; predictions grow with length
            long mid = (lo + hi + 1) >>> 1;
            if (predict(policy, mid, 0).requiredBytes() <= availableBytes) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }
}
