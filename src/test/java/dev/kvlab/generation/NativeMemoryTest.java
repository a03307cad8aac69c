package dev.kvlab.generation;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.testing.TinyModel;
import dev.kvlab.testing.TinyModels;
import dev.kvlab.tokenizer.TextTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Native memory must not leak across requests: each request's cache and step temporaries live in
 * native memory that the JVM heap does not see, so a leak shows only as process RSS growth.
 */
class NativeMemoryTest {
    /** Stated bound: 200 requests may grow RSS by at most this much after warm-up (allocator slack). */
    private static final long MAX_GROWTH_BYTES = 48L << 20;

    @TempDir
    Path dir;

    @Test
    void twoHundredGenerationsDoNotGrowResidentMemory() throws IOException {
        TinyModel tiny = TinyModels.llama().hidden(128).intermediate(256).writeTo(dir.resolve("m"));
        try (TransformerModel model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null));
                TextTokenizer tokenizer = TextTokenizer.load(tiny.tokenizerJson())) {
            Generator generator = new Generator(model, tokenizer, new int[0], TinyModels.BOS_ID, 16);
            GenerationRequest request = new GenerationRequest("memory should stay flat across many requests ".repeat(4),
                    24, new SamplingParams(0.8, 0, 1.0, 1), List.of(), new FullPolicy());
            for (int i = 0; i < 30; i++) {
                generator.generate(request, TokenListener.NONE); // warm-up: allocator pools, JIT
            }
            System.gc();
            long before = residentBytes();
            for (int i = 0; i < 200; i++) {
                generator.generate(request, TokenListener.NONE);
            }
            System.gc();
            long growth = residentBytes() - before;
            System.out.printf("RSS growth over 200 generations: %.1f MiB%n", growth / 1048576.0);
            assertTrue(growth < MAX_GROWTH_BYTES, "RSS grew by " + (growth >> 20) + " MiB");
        }
    }

    private static long residentBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
