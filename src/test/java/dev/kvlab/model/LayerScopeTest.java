package dev.kvlab.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.testing.TinyModel;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A forward pass frees each layer's temporaries before the next layer runs: what stays alive until
 * the step ends is a layer's output and the probabilities a policy observes, not every layer's
 * scores and intermediates, so a deeper model does not hold proportionally more activations.
 */
class LayerScopeTest {

    @TempDir
    static Path dir;

    /** Arrays still alive after one pass of 16 tokens, inside the caller's scope. */
    private static int aliveAfterOnePass(int layers, Map<String, Object> policy) {
        TinyModel tiny = TinyModels.llama().layers(layers).writeTo(dir.resolve("l" + layers + policy.hashCode()));
        try (TransformerModel model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null));
                KvCache cache = model.newCache(PolicyRegistry.create(policy), 64);
                NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            AbstractDecoder decoder = (AbstractDecoder) model;
            int before = decoder.manager.getManagedArrays().size() + cache.manager().getManagedArrays().size();
            model.forward(new int[] {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3}, cache, false);
            return decoder.manager.getManagedArrays().size() + cache.manager().getManagedArrays().size() - before;
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"full", "h2o"})
    void eachLayerLeavesOnlyItsOutputAndObservedProbabilities(String name) {
        Map<String, Object> policy = name.equals("full") ? Map.of() : Map.of("policy", "h2o", "budget", 64);
        int perLayer = (aliveAfterOnePass(8, policy) - aliveAfterOnePass(2, policy)) / 6;
        // its output, its cache's key-value buffer and the buffer's two halves and, for h2o, the observed
        // probabilities: 4 and 7 arrays; keeping every temporary to the end of the pass leaves over 50
        assertThat(perLayer).as("arrays each extra layer leaves alive").isLessThanOrEqualTo(8);
    }
}
