package dev.kvlab.model;

import ai.djl.ndarray.*;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.testing.*;
import java.nio.file.Path;
import java.util.*;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TmpDebugTest {
    @TempDir Path dir;
    @Test void debug() {
        TinyModel tiny = TinyModels.gpt2().writeTo(dir.resolve("g"));
        int[] tokens = new Random(11).ints(40, 0, tiny.config().vocabSize()).toArray();
        try (TransformerModel model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null))) {
            for (int rep = 0; rep < 6; rep++) {
                try (KvCache cache = model.newCache(new FullPolicy(), 64)) {
                    int pos = 0;
                    int[] sizes = {7, 5, 16, 1,1,1,1,1,1,1,1,1,1,1,1};
                    for (int s : sizes) {
                        try (NDScope scope = new NDScope()) {
                            float[] l = model.forward(Arrays.copyOfRange(tokens, pos, pos + s), cache, true).toFloatArray();
                            int nan = 0; for (float f : l) if (Float.isNaN(f)) nan++;
                            if (nan > 0) System.out.println("rep " + rep + " chunk at " + pos + " size " + s + " NaN " + nan + " of " + l.length);
                        }
                        pos += s;
                    }
                }
            }
        }
    }
}
