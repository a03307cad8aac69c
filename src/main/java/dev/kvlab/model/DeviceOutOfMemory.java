package dev.kvlab.model;

import ai.djl.engine.EngineException;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Recognises an engine failure that means the device ran out of memory, so that serving (a 507, the
 * caching allocator emptied) and the experiments (an OOM threshold) read failures the same way.
 * PyTorch names the condition in several ways depending on where the allocation failed: its CUDA
 * caching allocator ({@code CUDA out of memory. Tried to allocate …}), a raw CUDA call
 * ({@code CUDA error: out of memory}, {@code CUDA_ERROR_OUT_OF_MEMORY}), cuBLAS and cuDNN workspaces
 * ({@code CUBLAS_STATUS_ALLOC_FAILED}, {@code CUDNN_STATUS_ALLOC_FAILED}), its CPU allocator
 * ({@code DefaultCPUAllocator: not enough memory}, {@code can't allocate memory}) and C++'s
 * {@code std::bad_alloc}. DJL surfaces each as an {@link EngineException}, possibly wrapped.
 */
public final class DeviceOutOfMemory {

    /** Lower-case fragments of the messages above. */
    private static final List<String> SIGNS = List.of("out of memory", "out_of_memory", "cublas_status_alloc_failed",
            "cudnn_status_alloc_failed", "std::bad_alloc", "defaultcpuallocator: not enough memory",
            "can't allocate memory", "cannot allocate memory");

    private DeviceOutOfMemory() {}

    /** Whether {@code failure} or one of its causes is an engine failure naming an exhausted allocator. */
    public static boolean isOutOfMemory(Throwable failure) {
        Map<Throwable, Boolean> seen = new IdentityHashMap<>();
        for (Throwable t = failure; t != null && seen.put(t, Boolean.TRUE) == null; t = t.getCause()) {
            if (t instanceof EngineException && namesOutOfMemory(t.getMessage())) {
                return true;
            }
        }
        return false;
    }

    /** Whether an engine message names an exhausted allocator. */
    public static boolean namesOutOfMemory(String message) {
        if (message == null) {
            return false;
        }
        String m = message.toLowerCase(Locale.ROOT);
        return SIGNS.stream().anyMatch(m::contains);
    }
}
