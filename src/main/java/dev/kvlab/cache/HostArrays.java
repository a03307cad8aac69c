package dev.kvlab.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Java arrays onto the device without leaving their staging memory to the garbage collector. On a
 * CPU, DJL's {@code create(float[])} copies the data into a direct {@link ByteBuffer} and wraps it
 * (no second copy): the buffer is freed only when the collector finds it, long after the tensor was
 * closed. A long prompt's per-chunk masks and merge weights (megabytes each, created many times
 * while the Java heap hardly changes) then piled up as gigabytes of resident memory. Large arrays
 * therefore go through a buffer this class frees at once, after PyTorch has copied it; small ones
 * (a decode step's) keep DJL's single-copy path, whose buffers young collections reclaim.
 */
public final class HostArrays {
    /** From this many bytes on, the staging buffer is freed right away (one extra copy, two native calls). */
    static final int FREE_AT_ONCE_BYTES = 256 * 1024;

    private static final MethodHandle INVOKE_CLEANER = cleaner();

    private HostArrays() {}

    /** An f32 array of {@code shape} holding {@code data}, owned by PyTorch and attached to {@code manager}. */
    public static NDArray floats(NDManager manager, float[] data, Shape shape) {
        long bytes = 4L * data.length;
        if (bytes < FREE_AT_ONCE_BYTES || manager.getDevice().isGpu() || INVOKE_CLEANER == null) {
            return manager.create(data, shape); // on a GPU DJL copies to the device and keeps no buffer
        }
        ByteBuffer staging = ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
        staging.asFloatBuffer().put(data);
        try (NDArray wrapped = manager.create(staging, shape, DataType.FLOAT32)) {
            return wrapped.duplicate(); // PyTorch's own storage
        } finally {
            free(staging);
        }
    }

    /**
     * Releases a direct or mapped buffer now rather than at a later garbage collection (Java 17 has no
     * public API for it): staging buffers here, and the safetensors reader's memory maps. The caller must not touch {@code buffer}, or any view of it, afterwards.
     * Best effort: without {@code sun.misc.Unsafe} the collector frees it later.
     */
    public static void free(ByteBuffer buffer) {
        if (INVOKE_CLEANER == null || !buffer.isDirect()) {
            return;
        }
        try {
            INVOKE_CLEANER.invoke(buffer);
        } catch (Throwable ignored) {
            // best effort: the collector frees it later
        }
    }

    private static MethodHandle cleaner() {
        try {
            Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
            Field field = unsafeClass.getDeclaredField("theUnsafe");
            field.setAccessible(true);
            MethodHandle cleaner = MethodHandles.lookup().findVirtual(unsafeClass, "invokeCleaner",
                    MethodType.methodType(void.class, ByteBuffer.class));
            return cleaner.bindTo(field.get(null));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }
}
