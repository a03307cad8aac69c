package dev.kvlab.model.weights;

import dev.kvlab.cache.HostArrays;
import java.nio.MappedByteBuffer;

/**
 * Releases a memory map at once instead of when the garbage collector finds it, so that loading a
 * multi-GiB checkpoint does not leave every tensor's pages mapped (Java 17 has no public unmap).
 * Falls back to the collector when {@code sun.misc.Unsafe} is unavailable.
 */
final class Unmapper {

    private Unmapper() {}

    /** The caller must not touch {@code buffer}, or any view of it, afterwards. */
    static void unmap(MappedByteBuffer buffer) {
        HostArrays.free(buffer);
    }
}
