package dev.kvlab.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.EngineException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The engine failures serving and the experiments read as a device out of memory. */
class DeviceOutOfMemoryTest {

    @ParameterizedTest
    @ValueSource(strings = {
        "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity; 76.00 GiB already allocated)",
        "CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported at some other API call",
        "CUDA driver error: CUDA_ERROR_OUT_OF_MEMORY",
        "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
        "cuDNN error: CUDNN_STATUS_ALLOC_FAILED",
        "std::bad_alloc",
        "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: you tried to allocate 8 bytes.",
        "DefaultCPUAllocator: can't allocate memory: you tried to allocate 1024 bytes. Error code 12 (Cannot allocate memory)"
    })
    void recognisesEveryWayPyTorchSaysItRanOutOfMemory(String message) {
        assertThat(DeviceOutOfMemory.isOutOfMemory(new EngineException(message))).isTrue();
    }

    @Test
    void seesThroughWrappers() {
        EngineException oom = new EngineException("CUDA out of memory. Tried to allocate 20.00 MiB");
        assertThat(DeviceOutOfMemory.isOutOfMemory(new CompletionException(oom))).isTrue();
        assertThat(DeviceOutOfMemory.isOutOfMemory(new ExecutionException(new RuntimeException(oom)))).isTrue();
        assertThat(DeviceOutOfMemory.isOutOfMemory(new EngineException("forward failed", oom))).isTrue();
    }

    @Test
    void otherFailuresAreNotOutOfMemory() {
        assertThat(DeviceOutOfMemory.isOutOfMemory(new EngineException("shape mismatch: [2, 3] vs [3, 2]"))).isFalse();
        assertThat(DeviceOutOfMemory.isOutOfMemory(new EngineException((String) null))).isFalse();
        assertThat(DeviceOutOfMemory.isOutOfMemory(null)).isFalse();
        // only the engine's allocator counts: a Java exception that merely says so is a server fault
        assertThat(DeviceOutOfMemory.isOutOfMemory(new IllegalStateException("out of memory"))).isFalse();
        EngineException self = new EngineException("no such op");
        assertThat(DeviceOutOfMemory.isOutOfMemory(new RuntimeException(self))).isFalse();
    }
}
