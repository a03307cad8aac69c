package dev.kvlab.serving.admission;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import ai.djl.ndarray.types.DataType;
import dev.kvlab.cache.KvSpec;
import dev.kvlab.cache.MemoryBudget;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.metrics.GenerationMetrics;
import dev.kvlab.model.llama.LlamaConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;

/** The free memory that admits requests and answers {@code /capacity}; the prediction is {@code MemoryBudgetTest}'s. */
class MemoryGuardTest {

    private static final KvSpec SPEC = new KvSpec(2, 2, 16, DataType.FLOAT32); // 512 bytes per token
    private static final LlamaConfig CONFIG = new LlamaConfig(300, 64, 128, 2, 4, 2, 16, 256, 1e-5, 10000.0, null,
            false, false);

    private final DeviceMemoryProbe device = mock(DeviceMemoryProbe.class);

    private MemoryGuard guard(Long limit) {
        MemoryBudget budget = new MemoryBudget(SPEC, 10_000, 8, MemoryBudget.Activations.fromShapes(
                CONFIG.hiddenSize(), CONFIG.numHeads(), CONFIG.vocabSize(), SPEC.dtype().getNumOfBytes()));
        return new MemoryGuard(budget, limit == null ? null : DataSize.ofBytes(limit), device);
    }

    private static CachePolicy policy(Map<String, Object> kvCache) {
        return PolicyRegistry.create(kvCache);
    }

    @Test
    void availableIsTheTighterOfTheLimitAndTheDevice() {
        when(device.availableBytes()).thenReturn(1_000_000L);
        MemoryGuard limited = guard(110_000L);
        assertThat(limited.available(20_000, 0))
                .isEqualTo(new MemoryGuard.Availability(80_000, GenerationMetrics.Source.BUDGET));
        // a running request's unused reservation is not free on the device either
        when(device.availableBytes()).thenReturn(50_000L);
        assertThat(limited.available(20_000, 5_000))
                .isEqualTo(new MemoryGuard.Availability(35_000, GenerationMetrics.Source.DEVICE));
        // what running caches hold would be free for a request that ran alone
        assertThat(limited.capacity(40_000))
                .isEqualTo(new MemoryGuard.Availability(90_000, GenerationMetrics.Source.DEVICE));
        assertThat(guard(null).capacity(0))
                .isEqualTo(new MemoryGuard.Availability(50_000, GenerationMetrics.Source.DEVICE));
    }

    /**
     * On a GPU, blocks PyTorch keeps cached after a request make {@code cudaMemGetInfo} report them as
     * used; admission must not read that as full.
     */
    @Test
    void cachedButFreeGpuBlocksDoNotMakeLaterRequestsLookUnfittable() {
        when(device.isGpu()).thenReturn(true);
        when(device.totalBytes()).thenReturn(1_000_000L);
        when(device.snapshot()).thenReturn(new DeviceMemoryProbe.Snapshot("gpu:0", 200_000, 1_000_000));
        when(device.availableBytes()).thenReturn(800_000L);
        MemoryGuard guard = guard(null);
        CachePolicy full = policy(Map.of());
        MemoryBudget.Footprint big = guard.predict(full, 1000, 200);
        assertThat(guard.available(0, 0).availableBytes()).isEqualTo(800_000);
        // a large request ran and ended: its blocks stay in PyTorch's cache, so the device reads almost full
        when(device.availableBytes()).thenReturn(50_000L);
        when(device.snapshot()).thenReturn(new DeviceMemoryProbe.Snapshot("gpu:0", 950_000, 1_000_000));
        assertThat(big.requiredBytes()).isGreaterThan(50_000);
        assertThat(guard.available(0, 0).availableBytes()).as("nothing is reserved, so all but the baseline is free")
                .isEqualTo(800_000);
        assertThat(guard.capacity(0).availableBytes()).isEqualTo(800_000);
        // running requests' reservations still count, whether or not their caches have grown yet
        assertThat(guard.available(300_000, 100_000).availableBytes()).isEqualTo(500_000);
    }
}
