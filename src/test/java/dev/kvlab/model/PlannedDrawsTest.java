package dev.kvlab.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.testing.GpuWay;
import dev.kvlab.testing.TinyModel;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A step's planned draws are made per temperature and top-p over the rows that asked for them, and
 * each sequence gets the token its own row gives alone, whichever rows share its settings; a
 * sequence that planned nothing gets nothing. On a CPU the pass leaves drawing to the samplers.
 */
class PlannedDrawsTest {

    @TempDir
    static Path dir;

    @Test
    void eachSequenceGetsTheDrawItsOwnRowGives() {
        TinyModel tiny = TinyModels.llama().writeTo(dir.resolve("tiny"));
        List<KvCache> caches = new ArrayList<>();
        try (TransformerModel model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null));
                NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            int[][] prompts = {{3, 1, 4}, {1, 5}, {9, 2, 6, 5}, {3, 5, 8}};
            List<SequenceInput> inputs = new ArrayList<>();
            for (int[] prompt : prompts) {
                KvCache cache = model.newCache(new FullPolicy(), 16);
                caches.add(cache);
                model.forward(prompt, cache, false);
                inputs.add(new SequenceInput(cache, new int[] {7}, false));
            }
            inputs.set(3, new SequenceInput(model.newCache(new FullPolicy(), 16), new int[] {2, 7, 1, 8}, false));
            caches.add(inputs.get(3).cache());
            ForwardPass pass = model.forward(inputs);
            DeviceDraws.Plan[] plans = {new DeviceDraws.Plan(0.8, 1.0, 0.31), null,
                new DeviceDraws.Plan(0.8, 0.9, 0.74), new DeviceDraws.Plan(0.8, 1.0, 0.93)};

            GpuWay.run(false, () -> {
                pass.planDraws(plans);
                return null;
            });
            for (int s = 0; s < plans.length; s++) {
                assertThat(pass.drawn(s)).as("a CPU pass leaves sequence %d's draw to its sampler", s).isNull();
            }

            GpuWay.run(true, () -> {
                pass.planDraws(plans);
                return null;
            });
            assertThat(pass.drawn(1)).isNull();
            for (int s : new int[] {0, 2, 3}) {
                DeviceDraws.Drawn alone = DeviceDraws.draw(pass.logits(s).get("-1:, :"), plans[s].temperature(),
                        plans[s].topP(), new double[] {plans[s].uniform()})[0];
                assertThat(alone.id()).isNotNegative();
                assertThat(pass.drawn(s)).as("sequence %d", s).isEqualTo(alone);
            }
        } finally {
            caches.forEach(KvCache::close);
        }
    }
}
