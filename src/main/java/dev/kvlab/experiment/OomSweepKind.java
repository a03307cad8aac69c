package dev.kvlab.experiment;

import ai.djl.engine.EngineException;
import ai.djl.pytorch.jni.JniUtils;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.KvSpec;
import dev.kvlab.metrics.GenerationMetrics;
import dev.kvlab.model.ContextOverflowException;
import dev.kvlab.model.ModelConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code oom-sweep}, the OOM demonstration the project started from: per policy, prefill a held-out
 * prompt of {@code start_length} [256] tokens and decode {@code decode_tokens} [8], doubling the length
 * until the run runs out of memory or passes {@code max_length} [8192].
 *
 * <p>Memory is weights + the cache's exact bytes ({@link KvSpec}, peak incl. the transient budget +
 * chunk) + an activation allowance for each forward pass, {@code new tokens × (hidden part + keys ×
 * score part) + logits}. On a Linux CPU the two parts are measured once per server, on the first cell
 * ({@link ActivationProbe}: the native memory a prefill chunk faults in at two key counts); on a GPU,
 * elsewhere, or when the measurement is not within {@link #SANE_FACTOR} of the shape formula (the one
 * of the server's admission guard), they are computed from tensor shapes. The results name the source
 * and give both figures. On the CPU the limit is the
 * memory budget: the cell's {@code memory_limit_bytes}, else {@code kvlab.memory.limit}, else
 * physical memory; a run exceeds it after the forward pass that crosses it. On a GPU a real CUDA OOM
 * also ends the run: it is caught, the caching allocator emptied, {@code kvlab_oom_events_total}
 * counted, and the server keeps serving. The predicted threshold is reported beside the measured one.
 */
final class OomSweepKind implements ExperimentKind {

    /** Activation temporaries per token of a chunk, in hidden-size × dtype units (QKV, MLP, residuals). */
    private static final int HIDDEN_STATE_COPIES = 12;

    /** A measured allowance further than this factor from the computed one (either way) is not trusted. */
    static final double SANE_FACTOR = 100;

    private final ExperimentEngine engine;
    private final int maxLength;
    private volatile Allowance allowance;

    OomSweepKind(ExperimentEngine engine, int maxLength) {
        this.engine = engine;
        this.maxLength = maxLength;
    }

    @Override
    public String name() {
        return "oom-sweep";
    }

    @Override
    public List<Map<String, Object>> plan(ExperimentParams params, List<Map<String, Object>> policies) {
        int start = params.integer("start_length", Math.min(256, maxLength), 1, maxLength);
        int max = params.integer("max_length", Math.min(8192, maxLength), 1, maxLength);
        ExperimentParams.requireOrdered("start_length", start, "max_length", max);
        int decode = params.integer("decode_tokens", 8, 0, maxLength);
        Long limit = params.optionalLong("memory_limit_bytes", 1);
        params.rejectUnknown();
        List<Map<String, Object>> cells = new ArrayList<>();
        for (Map<String, Object> policy : PolicyGrid.expand(policies, null, engine.model().config().architecture())) {
            Map<String, Object> cell = new LinkedHashMap<>();
            cell.put("kv_cache", policy);
            cell.put("start_length", start);
            cell.put("max_length", max);
            cell.put("decode_tokens", decode);
            if (limit != null) {
                cell.put("memory_limit_bytes", limit);
            }
            cells.add(cell);
        }
        return cells;
    }

    /** The run crossed the memory limit (budget) or the device ran out (device). */
    private static final class OutOfMemory extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient GenerationMetrics.Source source;
        final long tokens;
        final long kvBytes;

        OutOfMemory(GenerationMetrics.Source source, long tokens, long kvBytes) {
            super(null, null, false, false);
            this.source = source;
            this.tokens = tokens;
            this.kvBytes = kvBytes;
        }
    }

    /**
     * The activation allowance of one forward pass of {@code tokens} new tokens over {@code keys} keys:
     * {@code fixed(tokens) + perKey(tokens) × keys} (hidden states of the chunk, f32 attention scores
     * and probabilities over the keys, the logits).
     */
    private record Activations(long hiddenBytesPerToken, long scoreBytesPerTokenKey, long logitsBytes) {
        long bytes(long tokens, long keys) {
            return tokens * hiddenBytesPerToken + tokens * scoreBytesPerTokenKey * keys + logitsBytes;
        }
    }

    /** The formula from tensor shapes: {@link #HIDDEN_STATE_COPIES} hidden states, f32 scores and probabilities. */
    private Activations computedActivations() {
        ModelConfig c = engine.model().config();
        return new Activations((long) c.hiddenSize() * HIDDEN_STATE_COPIES * engine.model().dtype().getNumOfBytes(),
                2L * Float.BYTES * c.numHeads(), 2L * Float.BYTES * c.vocabSize());
    }

    /**
     * The allowance the sweep uses and where it came from.
     *
     * @param fit the measurement, null when none ran
     * @param note why the computed figure is used, null when the measured one is
     */
    private record Allowance(Activations used, String source, Activations computed, Activations measured,
            ActivationProbe.Fit fit, String note) {}

    private Allowance allowance() {
        Allowance a = allowance;
        if (a == null) {
            synchronized (this) {
                a = allowance;
                if (a == null) {
                    a = measureAllowance();
                    allowance = a;
                }
            }
        }
        return a;
    }

    /**
     * Probes a chunk at {@code max(512, 2 × chunk)} keys and four times that, and splits the fit like the
     * formula: the logits stay the computed figure, the rest of the fixed part is per new token, the per-key
     * part per new token and key.
     */
    private Allowance measureAllowance() {
        Activations computed = computedActivations();
        String unavailable = ActivationProbe.unavailable(engine);
        if (unavailable != null) {
            return new Allowance(computed, "computed", computed, null, null, unavailable);
        }
        int chunk = engine.generator().prefillChunk();
        long first = Math.max(512, 2L * chunk) / chunk * chunk;
        ActivationProbe.Fit fit;
        try {
            fit = ActivationProbe.measure(engine, chunk, first, 4 * first);
        } catch (ContextOverflowException e) {
            return new Allowance(computed, "computed", computed, null, null,
                    "the probe's " + 4 * first + " keys exceed the model's positions");
        }
        Activations measured = new Activations(
                ceilDiv(Math.max(0, fit.fixedBytes() - computed.logitsBytes()), chunk),
                ceilDiv(fit.bytesPerKey(), chunk), computed.logitsBytes());
        long keys = 4 * first;
        double ratio = (double) measured.bytes(chunk, keys) / computed.bytes(chunk, keys);
        if (fit.bytesPerKey() <= 0 || ratio > SANE_FACTOR || ratio < 1 / SANE_FACTOR) {
            return new Allowance(computed, "computed", computed, measured, fit, String.format(Locale.ROOT,
                    "the measurement (%d bytes per key, %.2f× the computed figure) is not plausible",
                    fit.bytesPerKey(), ratio));
        }
        return new Allowance(measured, "measured", computed, measured, fit, null);
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    @Override
    public Map<String, Object> run(Map<String, Object> cell, Map<String, Object> params) {
        int start = ((Number) cell.get("start_length")).intValue();
        int max = ((Number) cell.get("max_length")).intValue();
        int decode = ((Number) cell.get("decode_tokens")).intValue();
        long limit = cell.get("memory_limit_bytes") instanceof Number n ? n.longValue()
                : engine.memoryLimitBytes() != null ? engine.memoryLimitBytes() : engine.probe().snapshot().totalBytes();
        long weights = engine.weightsBytes();
        Allowance allowance = allowance();
        Activations activations = allowance.used();
        KvSpec spec = engine.model().kvSpec();

        List<Map<String, Object>> lengths = new ArrayList<>();
        int maxSequence = 0;
        long peakMemory = 0;
        long peakActivations = 0;
        OutOfMemory oom = null;
        String policyName = "";
        for (long length = start; length <= max && oom == null; length *= 2) {
            CachePolicy policy = PolicyGrid.create(cell, engine.model().config().architecture());
            policyName = policy.name();
            long[] peak = {0, 0, 0}; // KV bytes, activation bytes, tokens seen before this step
            ExperimentEngine.Phase[] phase = {ExperimentEngine.Phase.PREFILL};
            try (KvCache cache = engine.model().newCache(policy, engine.generator().prefillChunk())) {
                engine.prefillAndDecode(engine.tokens(null, (int) length), decode, cache, (c, p) -> {
                    phase[0] = p;
                    long step = c.seenTokens() - peak[2];
                    peak[2] = c.seenTokens();
                    long kv = c.stats().peakBytes();
                    long act = activations.bytes(step, Math.min(c.seenTokens(), c.storedTokens() + step));
                    peak[0] = Math.max(peak[0], kv);
                    peak[1] = Math.max(peak[1], act);
                    if (weights + kv + act > limit) {
                        throw new OutOfMemory(GenerationMetrics.Source.BUDGET, c.seenTokens(), kv);
                    }
                });
                maxSequence = (int) length + decode;
            } catch (OutOfMemory e) {
                oom = e;
            } catch (EngineException e) {
                if (e.getMessage() == null || !e.getMessage().toLowerCase(Locale.ROOT).contains("out of memory")) {
                    throw e;
                }
                JniUtils.emptyCudaCache();
                oom = new OutOfMemory(GenerationMetrics.Source.DEVICE, peak[2], peak[0]);
            }
            if (oom != null) {
                engine.metrics().recordOutOfMemory(policyName, phase[0] == ExperimentEngine.Phase.PREFILL
                        ? GenerationMetrics.Phase.PREFILL : GenerationMetrics.Phase.DECODE, oom.source);
            }
            peakMemory = Math.max(peakMemory, weights + peak[0] + peak[1]);
            peakActivations = Math.max(peakActivations, peak[1]);
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("length", length);
            row.put("ok", oom == null);
            row.put("peak_kv_bytes", peak[0]);
            row.put("peak_activation_bytes", peak[1]);
            lengths.add(row);
        }

        int chunk = engine.generator().prefillChunk();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("memory_limit_bytes", limit);
        out.put("weights_bytes", weights);
        out.put("kv_bytes_per_token", spec.bytesPerToken());
        out.put("activation_source", allowance.source());
        out.put("activation_fixed_bytes", activations.bytes(chunk, 0));
        out.put("activation_bytes_per_key", chunk * activations.scoreBytesPerTokenKey());
        Activations computed = allowance.computed();
        out.put("activation_computed_fixed_bytes", computed.bytes(chunk, 0));
        out.put("activation_computed_bytes_per_key", chunk * computed.scoreBytesPerTokenKey());
        Activations measured = allowance.measured();
        out.put("activation_measured_fixed_bytes", measured == null ? null : measured.bytes(chunk, 0));
        out.put("activation_measured_bytes_per_key", measured == null ? null : chunk * measured.scoreBytesPerTokenKey());
        out.put("activation_probe", allowance.fit() == null ? null
                : allowance.fit().readings().stream().map(ActivationProbe.Reading::toMap).toList());
        out.put("activation_note", allowance.note());
        out.put("peak_activation_bytes", peakActivations);
        out.put("max_sequence_length", maxSequence);
        out.put("max_tokens_before_oom", oom == null ? null : oom.tokens);
        out.put("oom", oom != null);
        out.put("oom_source", oom == null ? null : oom.source.name().toLowerCase(Locale.ROOT));
        out.put("peak_memory_bytes", peakMemory);
        out.put("kv_bytes_at_limit", oom == null ? null : oom.kvBytes);
        out.put("predicted_max_tokens", predictedMaxTokens(cell, limit, weights, activations, spec));
        out.put("lengths", lengths);
        return out;
    }

    /**
     * The most tokens a full cache can take in whole prefill chunks before weights + KV + the chunk's
     * activations exceed the limit: {@code (limit − weights − fixed) / (KV bytes per token + score bytes
     * per key)}. A bounded policy's memory stops growing, so it predicts no threshold (null) when its
     * largest step fits, else 0.
     */
    private Long predictedMaxTokens(Map<String, Object> cell, long limit, long weights, Activations activations,
            KvSpec spec) {
        CachePolicy policy = PolicyGrid.create(cell, engine.model().config().architecture());
        long chunk = engine.generator().prefillChunk();
        if (policy.hasFixedBudget()) {
            long slots = (long) policy.maxSlots() + chunk;
            long fixed = spec.layers() * spec.bytesPerSlot() * slots;
            return weights + fixed + activations.bytes(chunk, slots) <= limit ? null : 0L;
        }
        long perToken = spec.bytesPerToken() + chunk * activations.scoreBytesPerTokenKey();
        return Math.max(0, (limit - weights - activations.bytes(chunk, 0)) / perToken);
    }
}
