package dev.kvlab.check;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.model.ForwardPass;
import dev.kvlab.model.SequenceInput;
import dev.kvlab.model.TransformerModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The self-check's {@code scores} check: a batch decoding under {@code h2o} with {@code compact_every}
 * above 1, whose summed scores a GPU keeps on the device between compactions
 * ({@link KvCache#scoresOnDevice}), decodes the same greedy tokens with its scores on the device as
 * with them on the host, and reports the milliseconds per step of each way, so that a GPU run shows
 * what keeping them there saves.
 */
final class ScoresCheck {
    static final int SEQUENCES = 4;
    static final int STEPS = 32;
    static final Map<String, Object> POLICY = Map.of("policy", "h2o", "budget", 64, "compact_every", 8);

    private ScoresCheck() {}

    static Map<String, Object> run(TransformerModel model, int[] prompt) {
        run(model, prompt, false); // warms up both ways
        run(model, prompt, true);
        Decoded host = run(model, prompt, false);
        Decoded device = run(model, prompt, true);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("ok", host.tokens().equals(device.tokens()));
        c.put("policy", POLICY.get("policy") + "/" + POLICY.get("budget") + "/every" + POLICY.get("compact_every"));
        c.put("sequences", SEQUENCES);
        c.put("same_greedy_tokens", host.tokens().equals(device.tokens()));
        c.put("on_device_by_default", KvCache.scoresOnDevice(PolicyRegistry.create(POLICY), model.device()));
        c.put("host_ms_per_step", Math.round(host.msPerStep() * 1000) / 1000.0);
        c.put("device_ms_per_step", Math.round(device.msPerStep() * 1000) / 1000.0);
        return c;
    }

    private record Decoded(List<Integer> tokens, double msPerStep) {}

    /** Prefills {@link #SEQUENCES} prompts of one length, then decodes {@link #STEPS} greedy steps in one batch. */
    private static Decoded run(TransformerModel model, int[] prompt, boolean scoresOnDevice) {
        List<KvCache> caches = new ArrayList<>();
        List<Integer> tokens = new ArrayList<>();
        try {
            int[] next = new int[SEQUENCES];
            for (int s = 0; s < SEQUENCES; s++) {
                KvCache cache = new KvCache(model.kvSpec(), PolicyRegistry.create(POLICY),
                        NDManager.newBaseManager(model.device()), prompt.length, scoresOnDevice);
                caches.add(cache);
                int[] own = Arrays.copyOfRange(prompt, s, prompt.length); // each sequence its own text
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    ForwardPass prefill = model.forward(List.of(new SequenceInput(cache, own, false)));
                    next[s] = prefill.lastArgmax(0).id();
                    prefill.commitAll();
                }
            }
            long start = System.nanoTime();
            for (int step = 0; step < STEPS; step++) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    List<SequenceInput> inputs = new ArrayList<>();
                    for (int s = 0; s < SEQUENCES; s++) {
                        inputs.add(new SequenceInput(caches.get(s), new int[] {next[s]}, false));
                    }
                    ForwardPass pass = model.forward(inputs);
                    for (int s = 0; s < SEQUENCES; s++) {
                        next[s] = pass.lastArgmax(s).id();
                        tokens.add(next[s]);
                    }
                    pass.commitAll();
                }
            }
            return new Decoded(tokens, (System.nanoTime() - start) / 1e6 / STEPS);
        } finally {
            caches.forEach(KvCache::close);
        }
    }
}
