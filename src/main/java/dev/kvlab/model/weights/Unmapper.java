package dev.kvlab.model.weights;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;

/**
 * Releases a memory map at once instead of when the garbage collector finds it, so that loading a
 * multi-GiB checkpoint does not leave every tensor's pages mapped (Java 17 has no public unmap).
 * Falls back to the collector when {@code sun.misc.Unsafe} is unavailable.
 */
final class Unmapper {

    private static final MethodHandle INVOKE_CLEANER = lookup();

    private Unmapper() {}

    /** The caller must not touch {@code buffer}, or any view of it, afterwards. */
    static void unmap(MappedByteBuffer buffer) {
        if (INVOKE_CLEANER == null) {
            return;
        }
        try {
            INVOKE_CLEANER.invoke(buffer);
        } catch (Throwable ignored) {
            // best effort: the collector unmaps it later
        }
    }

    private static MethodHandle lookup() {
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
