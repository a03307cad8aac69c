package dev.kvlab.experiment;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.ReadBlocks;
import dev.kvlab.cache.MemoryBudget;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.model.ForwardPass;
import dev.kvlab.model.SequenceInput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Measures, on a Linux CPU, the native memory one forward pass of a prefill chunk takes beyond the
 * KV cache, at two key counts, and fits {@code bytes(keys) = fixed + perKey × keys}.
 *
 * <p>One measurement: {@code malloc_trim(0)} hands every free page back to the kernel (the MALLOC_*
 * settings otherwise keep freed memory resident, so a pass would reuse resident pages and show
 * nothing), writing {@code 5} to {@code /proc/self/clear_refs} resets the peak resident set
 * ({@code VmHWM}) to the current one ({@code VmRSS}), the pass runs, and {@code VmHWM − VmRSS before}
 * is what it faulted in: its activations, plus a KV buffer it had to grow (subtracted, its size is
 * known). {@code MALLOC_TOP_PAD_} only reserves address space, which is not resident until touched.
 * Other threads can only add to a reading, so each key count takes the least of {@link #REPEATS}
 * passes; each pass is discarded, so they all see the same keys. The key counts stay within
 * {@link ReadBlocks#READ_BLOCK}, where attention still forms every score at once: the per-key part is
 * what a pass pays per key until attention reads the cache in blocks.
 */
final class ActivationProbe {

    /** Measured passes at each key count; the least counts. */
    static final int REPEATS = 5;

    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");
    private static final Path STATUS = Path.of("/proc/self/status");

    /** One forward pass of {@code chunk} new tokens over {@code keys} keys took {@code bytes}. */
    record Reading(long keys, long bytes) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("keys", keys);
            m.put("bytes", bytes);
            return m;
        }
    }

    /**
     * A measured allowance for one pass of {@code chunk} new tokens: {@code fixedBytes + bytesPerKey × keys}.
     */
    record Fit(int chunk, long fixedBytes, long bytesPerKey, List<Reading> readings) {

        /**
         * The fit split like the shape formula: {@code logitsBytes} (the computed figure) stays fixed, the
         * rest of the fixed part is per new token, the per-key part per new token and key (rounded up).
         */
        MemoryBudget.Activations perNewToken(long logitsBytes) {
            return new MemoryBudget.Activations(ceilDiv(Math.max(0, fixedBytes - logitsBytes), chunk),
                    ceilDiv(bytesPerKey, chunk), logitsBytes);
        }

        private static long ceilDiv(long a, long b) {
            return (a + b - 1) / b;
        }
    }

    private ActivationProbe() {}

    /** Why measuring is impossible here, or null when it is possible. */
    static String unavailable(ExperimentEngine engine) {
        if (!engine.probeActivations()) {
            return "kvlab.experiments.activation-probe is off";
        }
        if (engine.model().device().isGpu()) {
            return "the model is on a GPU (the allowance measures native CPU memory)";
        }
        if (!Files.isWritable(CLEAR_REFS) || !Files.isReadable(STATUS)) {
            return "no writable /proc/self/clear_refs (not Linux)";
        }
        if (mallocTrim() == null) {
            return "no malloc_trim in the C library";
        }
        return null;
    }

    /**
     * Runs the probe: a full cache prefilled to each of {@code keyCounts} (two or more), one unmeasured
     * pass over each, then {@link #REPEATS} rounds of one measured pass of {@code chunk} tokens over
     * each cache in turn. Alternating the caches spreads whatever else the process does (compiling,
     * collecting, serving) over every key count alike, instead of over the first one measured.
     */
    static Fit measure(ExperimentEngine engine, int chunk, long... keyCounts) {
        Function trim = mallocTrim();
        List<KvCache> caches = new ArrayList<>();
        Reading[] least = new Reading[keyCounts.length];
        try {
            for (long target : keyCounts) {
                KvCache cache = engine.model().newCache(new FullPolicy(), chunk);
                caches.add(cache);
                if (target > chunk) {
                    engine.prefillAndDecode(engine.tokens(null, (int) target - chunk), 0, cache,
                            ExperimentEngine.StepObserver.NONE);
                }
                // unmeasured: one-time allocations (kernels, thread-local buffers, the cache's growth for
                // the staged chunk) must not be counted (CI once read a negative slope without it)
                onePass(engine, cache, chunk, trim);
            }
            for (int r = 0; r < REPEATS; r++) {
                for (int i = 0; i < caches.size(); i++) {
                    Reading reading = onePass(engine, caches.get(i), chunk, trim);
                    least[i] = least[i] == null || reading.bytes() < least[i].bytes() ? reading : least[i];
                }
            }
        } finally {
            caches.forEach(KvCache::close);
        }
        List<Reading> readings = List.of(least);
        Reading first = readings.get(0);
        Reading last = readings.get(readings.size() - 1);
        long perKey = Math.max(0, (last.bytes() - first.bytes()) / Math.max(1, last.keys() - first.keys()));
        long fixed = Math.max(0, first.bytes() - perKey * first.keys());
        return new Fit(chunk, fixed, perKey, readings);
    }

    private static Reading onePass(ExperimentEngine engine, KvCache cache, int chunk, Function trim) {
        ExperimentEngine.checkCancelled();
        int[] tokens = engine.tokens(null, chunk);
        long allocated = cache.allocatedBytes();
        long keys = cache.storedTokens() + chunk;
        trim.invokeInt(new Object[] {0L});
        resetPeak();
        long before = statusBytes("VmRSS:");
        long peak;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            ForwardPass pass = engine.model().forward(List.of(new SequenceInput(cache, tokens, false)));
            peak = statusBytes("VmHWM:");
            pass.discard(0);
        }
        long grown = cache.allocatedBytes() > allocated ? cache.allocatedBytes() : 0;
        return new Reading(keys, Math.max(0, peak - before - grown));
    }

    private static void resetPeak() {
        try {
            Files.writeString(CLEAR_REFS, "5");
        } catch (IOException e) {
            throw new IllegalStateException("cannot reset the peak resident set: " + e.getMessage(), e);
        }
    }

    private static long statusBytes(String key) {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]) * 1024L;
                }
            }
            throw new IllegalStateException("no " + key + " line in " + STATUS);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + STATUS + ": " + e.getMessage(), e);
        }
    }

    private static Function mallocTrim() {
        for (String name : new String[] {"libc.so.6", "c"}) {
            try {
                return NativeLibrary.getInstance(name).getFunction("malloc_trim");
            } catch (UnsatisfiedLinkError | RuntimeException e) {
                // try the next name
            }
        }
        return null;
    }
}
