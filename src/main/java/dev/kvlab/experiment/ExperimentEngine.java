package dev.kvlab.experiment;

import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.MemoryBudget;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.data.HeldOutText;
import dev.kvlab.generation.GenerationCancelledException;
import dev.kvlab.generation.Generator;
import dev.kvlab.generation.Sampler;
import dev.kvlab.generation.Samplers;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.metrics.GenerationMetrics;
import dev.kvlab.model.TransformerModel;
import java.util.Arrays;
import java.util.Map;

/**
 * What the experiment kinds share: the server's one {@link TransformerModel} and {@link Generator}
 * (the same instances {@code /generate} uses), the memory probe and budget, and a greedy
 * prefill-then-decode loop that, unlike {@link Generator#generate}, never stops at eos, so memory
 * and speed are measured at exactly the lengths asked for.
 *
 * <p>Sharing is safe because the model's weights are immutable and every run owns its
 * {@link KvCache} (its own native-memory manager, freed when the run ends); cells run on
 * db-scheduler's own small pool ({@code kvlab.experiments.threads}, 1 by default), outside
 * {@code /generate}'s admission control, so they take at most that many cores' worth of the model
 * and requests are always answered.
 */
final class ExperimentEngine {

    /** Where the forward pass that just ran belongs. */
    enum Phase { PREFILL, DECODE }

    /** Called after every forward pass, once the policy has compacted the cache. */
    @FunctionalInterface
    interface StepObserver {
        StepObserver NONE = (cache, phase) -> {};

        void afterForward(KvCache cache, Phase phase);
    }

    /** Wall-clock time of the two phases of one run, in nanoseconds. */
    record Timing(long prefillNanos, long decodeNanos, int promptTokens, int decodedTokens) {
        double prefillTokensPerSecond() {
            return prefillNanos <= 0 ? 0 : promptTokens / (prefillNanos / 1e9);
        }

        double decodeTokensPerSecond() {
            return decodeNanos <= 0 ? 0 : decodedTokens / (decodeNanos / 1e9);
        }
    }

    private final Generator generator;
    private final DeviceMemoryProbe probe;
    private final GenerationMetrics metrics;
    private final Long memoryLimitBytes;
    private final boolean probeActivations;
    private volatile String heldOutText;

    /**
     * @param memoryLimitBytes {@code kvlab.memory.limit}, or null when unset
     * @param probeActivations whether {@code oom-sweep} may measure its activation allowance
     *     ({@code kvlab.experiments.activation-probe})
     */
    ExperimentEngine(Generator generator, DeviceMemoryProbe probe, GenerationMetrics metrics, Long memoryLimitBytes,
            boolean probeActivations) {
        this.generator = generator;
        this.probe = probe;
        this.metrics = metrics;
        this.memoryLimitBytes = memoryLimitBytes;
        this.probeActivations = probeActivations;
    }

    TransformerModel model() {
        return generator.model();
    }

    Generator generator() {
        return generator;
    }

    DeviceMemoryProbe probe() {
        return probe;
    }

    GenerationMetrics metrics() {
        return metrics;
    }

    Long memoryLimitBytes() {
        return memoryLimitBytes;
    }

    /** A fresh policy for one run (a policy holds one run's state), from a cell's {@code kv_cache}. */
    CachePolicy policy(Map<String, Object> kvCache) {
        return PolicyRegistry.create(kvCache, model().config().architecture());
    }

    boolean probeActivations() {
        return probeActivations;
    }

    /** The memory prediction admission and {@code /capacity} make, with the computed activation allowance. */
    MemoryBudget memoryBudget() {
        return model().memoryBudget(generator.prefillChunk());
    }

    /**
     * The first {@code count} tokens of {@code text} (BOS included when the model expects it), or of the
     * built-in held-out corpus when {@code text} is null; the text is repeated if it is too short.
     */
    int[] tokens(String text, int count) {
        String source = text != null ? text : heldOut();
        int[] ids = generator.promptTokens(source.substring(0, Math.min(source.length(), 8 * count + 1024)));
        if (ids.length == 0) {
            throw new IllegalArgumentException("the text encodes to no tokens");
        }
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            out[i] = ids[i % ids.length];
        }
        return out;
    }

    /**
     * Prefills {@code prompt} in chunks of {@code kvlab.prefill.chunk}, then decodes {@code decode}
     * tokens greedily.
     */
    Timing prefillAndDecode(int[] prompt, int decode, KvCache cache, StepObserver observer) {
        int chunk = generator.prefillChunk();
        Sampler greedy = Samplers.of(SamplingParams.greedy());
        long start = System.nanoTime();
        float[] logits = null;
        for (int from = 0; from < prompt.length; from += chunk) {
            checkCancelled();
            int to = Math.min(prompt.length, from + chunk);
            logits = forward(Arrays.copyOfRange(prompt, from, to), cache);
            observer.afterForward(cache, Phase.PREFILL);
        }
        long prefilled = System.nanoTime();
        for (int step = 0; step < decode; step++) {
            checkCancelled();
            logits = forward(new int[] {greedy.sample(logits)}, cache);
            observer.afterForward(cache, Phase.DECODE);
        }
        return new Timing(prefilled - start, System.nanoTime() - prefilled, prompt.length, decode);
    }

    /** One forward pass, its arrays freed before it returns; the logits of the last token. */
    float[] forward(int[] tokens, KvCache cache) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            return model().forward(tokens, cache, false).toFloatArray();
        }
    }

    private String heldOut() {
        String text = heldOutText;
        if (text == null) {
            text = HeldOutText.builtIn();
            heldOutText = text;
        }
        return text;
    }

    static void checkCancelled() {
        if (Thread.currentThread().isInterrupted()) {
            throw new GenerationCancelledException("experiment cell interrupted");
        }
    }
}
