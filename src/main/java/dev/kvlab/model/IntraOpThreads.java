package dev.kvlab.model;

import ai.djl.pytorch.jni.JniUtils;

/**
 * PyTorch's intra-op thread count, chosen per forward pass on the calling thread: all cores for a
 * prefill chunk, where the matmuls are large enough to split, and (by default) one for a
 * single-token decode step. A decode step on a CPU is a few hundred small ops, each reading weights
 * from memory at a rate one core already saturates (measured on this project's 2-core runner:
 * ~21 GB/s for a decode-shaped matmul with 1 thread or 2, for weights of 1.4 to 92 MB), so a second
 * thread only adds a wake-up and a barrier to every op: decoding the shipped model with one thread
 * measured 1.2–1.9× faster than with two. PyTorch keeps this setting per OS thread (OpenMP and MKL
 * read it from the calling thread), so concurrent requests each get their own; the count is only
 * changed when it differs from the thread's last one, because the call can resize a thread pool.
 */
public final class IntraOpThreads {
    private static final ThreadLocal<int[]> CURRENT = ThreadLocal.withInitial(() -> new int[] {0});

    private final int prefill;
    private final int decode;

    /**
     * @param prefill threads for passes of more than one token; 0 leaves PyTorch's setting alone
     * @param decode threads for single-token passes; 0 leaves PyTorch's setting alone
     */
    public IntraOpThreads(int prefill, int decode) {
        if (prefill < 0 || decode < 0) {
            throw new IllegalArgumentException("thread counts must be 0 (unchanged) or positive");
        }
        this.prefill = prefill;
        this.decode = decode;
    }

    /** Leaves PyTorch's thread count alone (GPU models: the CPU threads only launch kernels). */
    public static IntraOpThreads unchanged() {
        return new IntraOpThreads(0, 0);
    }

    /**
     * CPU default: prefill with the engine's configured count (PyTorch's default is the core count,
     * {@code ai.djl.pytorch.num_threads} overrides it), decode with {@code decode} threads.
     */
    public static IntraOpThreads forCpu(int decode) {
        int configured = Configured.COUNT;
        return new IntraOpThreads(configured, decode <= 0 ? configured : Math.min(decode, configured));
    }

    /**
     * PyTorch's count as the engine configured it, read once, before any model exists and so before
     * this class changed any thread's count (a later read on a thread that decoded would see 1).
     */
    private static final class Configured {
        static final int COUNT = Math.max(1, JniUtils.getNumThreads());
    }

    public int prefill() {
        return prefill;
    }

    public int decode() {
        return decode;
    }

    /** Sets the calling thread's count for a pass over {@code tokens} new tokens. */
    void select(int tokens) {
        int wanted = tokens == 1 ? decode : prefill;
        int[] current = CURRENT.get();
        if (wanted > 0 && current[0] != wanted) {
            JniUtils.setNumThreads(wanted);
            current[0] = wanted;
        }
    }
}
