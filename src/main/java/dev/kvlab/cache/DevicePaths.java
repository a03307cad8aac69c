package dev.kvlab.cache;

import ai.djl.Device;

/**
 * Which way the engine takes where a GPU and a CPU are served best by different code: draws from the
 * logits, policy scores kept between compactions, attention entropies and key similarities. On a GPU
 * each reduces on the device and copies a few values to the host; on a CPU, where a copy is a memory
 * copy, the host's way measured faster. The system property {@code kvlab.gpu-paths=true} takes the
 * GPU's way on a CPU too, so that every GPU branch runs in the tests and the self-check of a machine
 * without a GPU; it makes a CPU slower, not faster.
 */
public final class DevicePaths {
    /** The system property that takes the GPU's way on any device. */
    public static final String FORCE_PROPERTY = "kvlab.gpu-paths";

    private DevicePaths() {}

    /** Whether arrays on {@code device} take the GPU's way. */
    public static boolean gpuWay(Device device) {
        return device.isGpu() || Boolean.getBoolean(FORCE_PROPERTY);
    }
}
