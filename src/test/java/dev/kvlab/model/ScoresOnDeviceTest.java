package dev.kvlab.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.testing.TinyModel;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Policies that add the attention each slot receives but compact every few steps keep their scores
 * on the device between compactions on a GPU. Forced on here, a batch decoding in one group gives
 * every sequence the logits, token for token, that it gets with its scores kept on the host: the
 * same compactions, through prefill, drop-only and merging ones.
 */
class ScoresOnDeviceTest {
    private static final List<Map<String, Object>> POLICIES = List.of(
            Map.of("policy", "h2o", "budget", 16, "compact_every", 4),
            Map.of("policy", "snapkv", "budget", 16, "window", 4, "compact_every", 2),
            Map.of("policy", "entropy-merge", "priority", "attention", "budget", 16, "compact_every", 3,
                    "similarity", 0.0));

    @TempDir
    static Path dir;

    @Test
    void aBatchGetsTheSameLogitsWithScoresOnTheDeviceAsOnTheHost() {
        TinyModel tiny = TinyModels.llama().writeTo(dir.resolve("tiny"));
        try (TransformerModel model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null))) {
            List<float[]> host = decode(model, false);
            List<float[]> device = decode(model, true);
            assertThat(device).hasSameSizeAs(host);
            for (int i = 0; i < host.size(); i++) {
                assertThat(device.get(i)).as("row %d (step %d, sequence %d)", i, i / 3, i % 3)
                        .containsExactly(host.get(i));
            }
        }
    }

    /** Prefills three prompts longer than the budget, then decodes 30 greedy steps in one batch; every step's logits. */
    private static List<float[]> decode(TransformerModel model, boolean scoresOnDevice) {
        List<KvCache> caches = new ArrayList<>();
        List<float[]> logits = new ArrayList<>();
        try {
            int[] next = new int[POLICIES.size()];
            for (int s = 0; s < POLICIES.size(); s++) {
                CachePolicy policy = PolicyRegistry.create(POLICIES.get(s));
                assertThat(policy.keepsScoresOnDevice()).as(policy.name()).isTrue();
                KvCache cache = new KvCache(model.kvSpec(), policy, NDManager.newBaseManager(), 64, scoresOnDevice);
                caches.add(cache);
                int length = 30 - 2 * s;
                int offset = s;
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    ForwardPass prefill = model.forward(List.of(new SequenceInput(cache,
                            IntStream.range(0, length).map(i -> (i * 7 + offset) % 50).toArray(), false)));
                    next[s] = prefill.lastArgmax(0).id();
                    prefill.commitAll();
                }
            }
            for (int step = 0; step < 30; step++) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    List<SequenceInput> inputs = new ArrayList<>();
                    for (int s = 0; s < caches.size(); s++) {
                        inputs.add(new SequenceInput(caches.get(s), new int[] {next[s]}, false));
                    }
                    ForwardPass pass = model.forward(inputs);
                    for (int s = 0; s < caches.size(); s++) {
                        logits.add(pass.lastLogits(s));
                        next[s] = pass.lastArgmax(s).id();
                    }
                    pass.commitAll();
                }
            }
            for (KvCache cache : caches) {
                assertThat(cache.layer(0).scores().onDevice()).isEqualTo(scoresOnDevice);
                assertThat(cache.stats().evicted() + cache.stats().merged()).as("the budget was enforced")
                        .isPositive();
            }
            assertThat(caches.get(2).stats().merged()).as("entropy-merge merged slots").isPositive();
            return logits;
        } finally {
            caches.forEach(KvCache::close);
        }
    }
}
