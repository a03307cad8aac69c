package dev.kvlab.serving.admission;

import dev.kvlab.cache.KvSpec;
import dev.kvlab.cache.MemoryBudget;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.metrics.GenerationMetrics;
import dev.kvlab.model.TransformerModel;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;
import org.springframework.util.unit.DataSize;

/**
 * Predicts the memory a generation needs before it is admitted, and how much is free for it, so a
 * request that cannot fit is refused with 507 instead of failing mid-way (DESIGN §5). The prediction
 * is {@link MemoryBudget}'s, the one {@code oom-sweep} reports beside its measured thresholds: the KV
 * part exact ({@link KvSpec}), activations an estimate of one forward pass's temporaries.
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
public class MemoryGuard {

    private final MemoryBudget budget;
    private final Long limitBytes;
    private final DeviceMemoryProbe device;
    private final Long gpuBaselineBytes; // the GPU's use once the model is loaded; null on a CPU

    @Autowired
    MemoryGuard(TransformerModel model, DeviceMemoryProbe device, KvlabProperties properties) {
        this(model.memoryBudget(properties.prefill().chunk()), properties.memory().limit(), device);
    }

    MemoryGuard(MemoryBudget budget, DataSize limit, DeviceMemoryProbe device) {
        this.budget = budget;
        this.limitBytes = limit == null ? null : limit.toBytes();
        this.device = device;
        this.gpuBaselineBytes = device.isGpu() ? device.snapshot().usedBytes() : null;
    }

    /** What the device could still give kvlab with nothing reserved: tracked on a GPU, read on a CPU. */
    private long deviceFree() {
        return gpuBaselineBytes != null ? Math.max(0, device.totalBytes() - gpuBaselineBytes) : device.availableBytes();
    }

    /**
     * Free memory for a new request.
     *
     * @param availableBytes the tighter of the two bounds
     * @param limitedBy which bound that is
     */
    public record Availability(long availableBytes, GenerationMetrics.Source limitedBy) {}

    /** The prediction admission and {@code /capacity} use. */
    MemoryBudget budget() {
        return budget;
    }

    public long kvBytesPerToken() {
        return budget.spec().bytesPerToken();
    }

    public long weightsBytes() {
        return budget.weightsBytes();
    }

    /** {@code kvlab.memory.limit} in bytes, or null when unset. */
    Long limitBytes() {
        return limitBytes;
    }

    public String deviceName() {
        return device.deviceName();
    }

    /** What a generation of {@code promptTokens} prompt and at most {@code maxNewTokens} new tokens needs. */
    public MemoryBudget.Footprint predict(CachePolicy policy, long promptTokens, long maxNewTokens) {
        return budget.footprint(policy, promptTokens, maxNewTokens);
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
            best = limitBytes - weightsBytes() - reservedBytes;
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
    public Availability capacity(long liveBytesOfRunning) {
        Availability now = available(0, 0);
        if (now.limitedBy() == GenerationMetrics.Source.BUDGET) {
            return now;
        }
        long onDevice = gpuBaselineBytes != null ? deviceFree() : deviceFree() + liveBytesOfRunning;
        return limitBytes != null && limitBytes - weightsBytes() < onDevice
                ? new Availability(Math.max(0, limitBytes - weightsBytes()), GenerationMetrics.Source.BUDGET)
                : new Availability(onDevice, GenerationMetrics.Source.DEVICE);
    }

    /** {@link AdmissionControl.Memory}: the bytes free for a new reservation. */
    long availableBytes(long reservedBytes, long liveBytes) {
        return available(reservedBytes, liveBytes).availableBytes();
    }
}
