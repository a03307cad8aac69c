package dev.kvlab.cache;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.cache.policy.FullPolicy;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * Host data reaches PyTorch intact, and a long prompt's large per-chunk arrays do not stay behind
 * as direct buffers waiting for a garbage collection.
 */
class HostArraysTest {

    private static long directBytesInUse() {
        return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(pool -> pool.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed).sum();
    }

    @Test
    void smallAndLargeArraysArriveIntact() {
        try (NDManager manager = NDManager.newBaseManager()) {
            for (int n : new int[] {7, HostArrays.FREE_AT_ONCE_BYTES / 4 + 5}) {
                float[] data = new float[n];
                for (int i = 0; i < n; i++) {
                    data[i] = i * 0.5f - 3;
                }
                NDArray array = HostArrays.floats(manager, data, new Shape(n));
                data[0] = 99f; // the array is a copy, not a view of the Java array
                assertThat(array.toFloatArray()[0]).isEqualTo(-3f);
                assertThat(array.toFloatArray()[n - 1]).isEqualTo((n - 1) * 0.5f - 3);
            }
        }
    }

    @Test
    void prefillMasksLeaveNoDirectBuffersBehind() {
        try (KvCache cache = new KvCache(new KvSpec(2, 1, 4, DataType.FLOAT32), new FullPolicy(),
                NDManager.newBaseManager(), 512)) {
            long before = directBytesInUse();
            int chunk = 512;
            for (int seen = 0; seen < 8 * chunk; seen += chunk) { // masks of 1 to 16 MiB, 36 MiB in all
                NDArray mask = cache.causalMask(chunk, seen + chunk);
                assertThat(cache.causalMask(chunk, seen + chunk)).isSameAs(mask); // the next layer reuses it
                float[] row = mask.toFloatArray();
                int stored = seen + chunk;
                assertThat(row[seen]).isZero(); // new token 0 sees itself
                assertThat(row[seen + 1]).isEqualTo(Float.NEGATIVE_INFINITY); // ... but not token 1
                assertThat(row[(chunk - 1) * stored + stored - 1]).isZero(); // the last token sees everything
                cache.advance(chunk);
            }
            long growth = directBytesInUse() - before;
            assertThat(growth).as("direct buffers still held after 36 MiB of masks").isLessThan(1L << 20);
        }
    }
}
