package dev.kvlab.testing;

import dev.kvlab.cache.DevicePaths;
import java.util.function.Supplier;

/**
 * Runs code with the engine's GPU branches taken or not ({@link DevicePaths#FORCE_PROPERTY}) and puts
 * the property back as it was, so that a whole suite run with the property set stays set.
 */
public final class GpuWay {
    private GpuWay() {}

    public static <T> T run(boolean gpuWay, Supplier<T> code) {
        String before = System.getProperty(DevicePaths.FORCE_PROPERTY);
        System.setProperty(DevicePaths.FORCE_PROPERTY, String.valueOf(gpuWay));
        try {
            return code.get();
        } finally {
            if (before == null) {
                System.clearProperty(DevicePaths.FORCE_PROPERTY);
            } else {
                System.setProperty(DevicePaths.FORCE_PROPERTY, before);
            }
        }
    }
}
