package dev.kvlab.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.testing.TinyModel;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PerplexityEvaluatorTest {
    @TempDir
    Path dir;

    @Test
    void fullCachePerplexityEqualsOneForwardOverTheText() {
        TinyModel tiny = TinyModels.llama().writeTo(dir.resolve("m"));
        int[] tokens = new Random(3).ints(60, 0, tiny.config().vocabSize()).toArray();
        try (TransformerModel model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null))) {
            PerplexityEvaluator.Result result = new PerplexityEvaluator(model).evaluate(tokens, new FullPolicy());

            double expected = 0;
            try (KvCache cache = model.newCache(new FullPolicy(), tokens.length); NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                float[] all = model.forward(tokens, cache, true).toFloatArray();
                int vocab = tiny.config().vocabSize();
                for (int i = 0; i < tokens.length - 1; i++) {
                    float[] row = java.util.Arrays.copyOfRange(all, i * vocab, (i + 1) * vocab);
                    expected += PerplexityEvaluator.negativeLogLikelihood(row, tokens[i + 1]);
                }
            }
            assertEquals(59, result.predictedTokens());
            assertEquals(expected / 59, result.meanNll(), 1e-4);
            assertTrue(result.perplexity() > 1);

            PerplexityEvaluator.Result bounded = new PerplexityEvaluator(model).evaluate(tokens,
                    PolicyRegistry.create(Map.of("policy", "streaming", "budget", 16, "rope", "original")));
            assertNotEquals(result.meanNll(), bounded.meanNll(), 1e-6, "a 16-slot window must change the predictions");
            assertTrue(bounded.cache().peakBytes() < result.cache().peakBytes());
        }
    }

    @Test
    void negativeLogLikelihoodOfUniformLogitsIsLogVocab() {
        assertEquals(Math.log(4), PerplexityEvaluator.negativeLogLikelihood(new float[] {2, 2, 2, 2}, 1), 1e-12);
    }
}
