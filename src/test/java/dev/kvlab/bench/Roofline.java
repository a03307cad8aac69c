package dev.kvlab.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.kvlab.model.AbstractDecoder;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.model.llama.LlamaModel;
import dev.kvlab.model.llama.LlamaWeights;
import java.util.ArrayList;
import java.util.List;

/** Measured matmul and copy rates, the ceilings decode is held against. */
final class Roofline {
    double decodeGflops;
    double squareGflops;
    double copyGbps;
    double arraycopyGbps;
    double opMicros;

    double weightPassMs;
    int weightPassThreads;

    static Roofline measure(TransformerModel model) throws InterruptedException {
        int hidden = model.config().hiddenSize();
        Roofline r = new Roofline();
        r.weightPassThreads = ((AbstractDecoder) model).threads().decode();
        r.weightPassMs = weightPassMs(model, r.weightPassThreads);
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            r.decodeGflops = matmulGflops(m, 1, hidden, 4 * hidden, 2000);
            r.squareGflops = matmulGflops(m, 1024, 1024, 1024, 8);
            long floats = 64L << 20; // 256 MiB
            NDArray source = m.ones(new Shape(floats));
            NDArray target = m.zeros(new Shape(floats));
            long best = Long.MAX_VALUE;
            for (int i = 0; i < 6; i++) { // into the same target each time, so no page faults are timed
                long t = System.nanoTime();
                target.addi(source);
                best = Math.min(best, System.nanoTime() - t);
            }
            r.copyGbps = 3.0 * floats * 4 / best; // two arrays read, one written: bytes per ns = GB/s
            NDArray small = m.ones(new Shape(1, hidden));
            best = Long.MAX_VALUE;
            for (int rep = 0; rep < 5; rep++) {
                long t = System.nanoTime();
                for (int i = 0; i < 2000; i++) {
                    small.add(small).close();
                }
                best = Math.min(best, System.nanoTime() - t);
            }
            r.opMicros = best / 2000 / 1e3;
        }
        float[] src = new float[64 << 20];
        float[] dst = new float[src.length];
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            long t = System.nanoTime();
            System.arraycopy(src, 0, dst, 0, src.length);
            best = Math.min(best, System.nanoTime() - t);
        }
        r.arraycopyGbps = 2.0 * src.length * 4 / best;
        return r;
    }

    /**
     * One decode step's projections and nothing else: a (1 × in) row times every weight matrix of the
     * model once (fused QKV, output, fused gate-up, down per layer, then the LM head), the same arrays
     * the forward pass reads, best of 5 × 50 passes; on a thread of its own with the decode thread count,
     * so the caller's setting is untouched. The floor of a decode step: weights stream from memory once
     * per token. NaN for architectures other than Llama.
     */
    static double weightPassMs(TransformerModel model, int threads) throws InterruptedException {
        if (!(model instanceof LlamaModel llama)) {
            return Double.NaN;
        }
        List<NDArray> weights = new ArrayList<>();
        for (int i = 0; i < model.config().numLayers(); i++) {
            LlamaWeights.Layer l = llama.weights().layer(i);
            weights.addAll(List.of(l.qkv(), l.out(), l.gateUp(), l.down()));
        }
        weights.add(llama.weights().lmHead());
        double[] best = {Double.MAX_VALUE};
        Thread thread = new Thread(() -> {
            JniUtils.setNumThreads(threads);
            try (NDManager m = NDManager.newBaseManager("PyTorch")) {
                List<NDArray> rows = new ArrayList<>();
                for (NDArray w : weights) {
                    rows.add(m.randomNormal(new Shape(1, w.getShape().get(0))));
                }
                for (int rep = 0; rep < 5; rep++) {
                    long t = System.nanoTime();
                    for (int pass = 0; pass < 50; pass++) {
                        for (int j = 0; j < weights.size(); j++) {
                            rows.get(j).matMul(weights.get(j)).close();
                        }
                    }
                    best[0] = Math.min(best[0], (System.nanoTime() - t) / 50 / 1e6);
                }
            }
        });
        thread.start();
        thread.join();
        return best[0];
    }

    private static double matmulGflops(NDManager m, int rows, int inner, int cols, int iterations) {
        NDArray a = m.randomNormal(new Shape(rows, inner));
        NDArray b = m.randomNormal(new Shape(inner, cols));
        long best = Long.MAX_VALUE;
        for (int rep = 0; rep < 6; rep++) { // the first is a warm-up, but best-of makes it harmless
            long t = System.nanoTime();
            for (int i = 0; i < iterations; i++) {
                a.matMul(b).close();
            }
            best = Math.min(best, System.nanoTime() - t);
        }
        return 2.0 * rows * inner * cols * iterations / best;
    }

    void print() {
        System.out.println("\n## This machine (best of several runs)");
        System.out.printf("matmul (1024×1024)·(1024×1024): %.1f GFLOP/s; decode-shaped (1×256)·(256×1024): %.1f GFLOP/s%n",
                squareGflops, decodeGflops);
        System.out.printf("memory bandwidth over 256 MiB arrays (bytes read + written): NDArray in-place add %.1f GB/s, System.arraycopy %.1f GB/s%n",
                copyGbps, arraycopyGbps);
        System.out.printf("one small native op ((1×256) add through DJL/JNI): %.1f µs%n", opMicros);
        System.out.printf("one decode step's weight matmuls alone (the model's own projection and LM-head weights, %d"
                + " thread(s)): %.3f ms, so decode cannot pass %.0f tok/s here%n", weightPassThreads, weightPassMs,
                1000 / weightPassMs);
    }
}
