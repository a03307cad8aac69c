package dev.kvlab.experiment;

import ai.djl.engine.EngineException;
import ai.djl.pytorch.jni.JniUtils;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.KvSpec;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.ReadBlocks;
import dev.kvlab.cache.MemoryBudget;
import dev.kvlab.cache.MemoryBudget.Activations;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.metrics.GenerationMetrics;
import dev.kvlab.model.ContextOverflowException;
import dev.kvlab.model.DeviceOutOfMemory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jfree.chart.JFreeChart;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * {@code oom-sweep}, the OOM demonstration the project started from: per policy, prefill a held-out
 * prompt of {@code start_length} [256] tokens and decode {@code decode_tokens} [8], doubling the length
 * until the run runs out of memory or passes {@code max_length} [8192].
 *
 * <p>Memory is weights + the cache's exact bytes ({@link KvSpec}, peak incl. the transient budget +
 * chunk) + an activation allowance for each forward pass, {@code new tokens × (hidden part + keys ×
 * score part) + logits} ({@link MemoryBudget.Activations}) with the keys read at once and the
 * dequantized slots of a quantized cache ({@link MemoryBudget#passBytes}). On a Linux CPU the two parts are measured
 * once per server, on the first cell ({@link ActivationProbe}: the native memory a prefill chunk
 * faults in at two key counts); on a GPU, elsewhere, with {@code kvlab.experiments.activation-probe}
 * off, or when the measurement is not within {@link #SANE_FACTOR} of the shape formula, they are
 * computed from tensor shapes. The results name the source and give both figures. The predicted
 * threshold is {@link MemoryBudget}'s, the prediction {@code GET /capacity} makes: with the computed
 * allowance the two agree for the same limit. On the CPU the limit is the
 * memory budget: the cell's {@code memory_limit_bytes}, else {@code kvlab.memory.limit}, else
 * physical memory; a run exceeds it after the forward pass that crosses it. On a GPU a real CUDA OOM
 * also ends the run: it is caught, the caching allocator emptied, {@code kvlab_oom_events_total}
 * counted, and the server keeps serving.
 */
final class OomSweepKind implements ExperimentKind {

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
            cells.add(new Cell(policy, start, max, decode, limit).toMap());
        }
        return cells;
    }

    /**
     * One policy's sweep.
     *
     * @param memoryLimitBytes the limit the request set, null for {@code kvlab.memory.limit} or the device's
     */
    record Cell(Map<String, Object> kvCache, int startLength, int maxLength, int decodeTokens, Long memoryLimitBytes) {

        static Cell of(Map<String, Object> cell) {
            CellFields f = CellFields.of("oom-sweep", cell);
            return new Cell(f.kvCache(), f.integer("start_length"), f.integer("max_length"), f.integer("decode_tokens"),
                    f.optionalLong("memory_limit_bytes"));
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = CellFields.start(kvCache);
            m.put("start_length", startLength);
            m.put("max_length", maxLength);
            m.put("decode_tokens", decodeTokens);
            if (memoryLimitBytes != null) {
                m.put("memory_limit_bytes", memoryLimitBytes);
            }
            return m;
        }
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
        Activations computed = engine.memoryBudget().activations();
        String unavailable = ActivationProbe.unavailable(engine);
        if (unavailable != null) {
            return new Allowance(computed, "computed", computed, null, null, unavailable);
        }
        int chunk = engine.generator().prefillChunk();
        long keys = ReadBlocks.READ_BLOCK;
        long first = Math.max(chunk, keys / 4);
        if (first >= keys) {
            return new Allowance(computed, "computed", computed, null, null, "the prefill chunk (" + chunk
                    + ") leaves no two key counts to measure below the attention read block (" + keys + ")");
        }
        ActivationProbe.Fit fit;
        try {
            fit = ActivationProbe.measure(engine, chunk, first, keys);
        } catch (ContextOverflowException e) {
            return new Allowance(computed, "computed", computed, null, null,
                    "the probe's " + keys + " keys exceed the model's positions");
        }
        Activations measured = fit.perNewToken(computed.logitsBytes());
        double ratio = (double) measured.bytes(chunk, keys) / computed.bytes(chunk, keys);
        if (fit.bytesPerKey() <= 0 || ratio > SANE_FACTOR || ratio < 1 / SANE_FACTOR) {
            return new Allowance(computed, "computed", computed, measured, fit, String.format(Locale.ROOT,
                    "the measurement (%d bytes per key, %.2f× the computed figure) is not plausible",
                    fit.bytesPerKey(), ratio));
        }
        return new Allowance(measured, "measured", computed, measured, fit, null);
    }

    @Override
    public Map<String, Object> run(Map<String, Object> stored, Map<String, Object> params) {
        Cell cell = Cell.of(stored);
        int decode = cell.decodeTokens();
        long limit = cell.memoryLimitBytes() != null ? cell.memoryLimitBytes()
                : engine.memoryLimitBytes() != null ? engine.memoryLimitBytes() : engine.probe().snapshot().totalBytes();
        Allowance allowance = allowance();
        MemoryBudget budget = engine.memoryBudget().withActivations(allowance.used());
        Activations activations = budget.activations();
        long weights = budget.weightsBytes();
        KvSpec spec = budget.spec();

        List<Map<String, Object>> lengths = new ArrayList<>();
        int maxSequence = 0;
        long peakMemory = 0;
        long peakActivations = 0;
        OutOfMemory oom = null;
        String policyName = "";
        for (long length = cell.startLength(); length <= cell.maxLength() && oom == null; length *= 2) {
            CachePolicy policy = engine.policy(cell.kvCache());
            policyName = policy.name();
            long[] peak = {0, 0, 0}; // KV bytes, activation bytes, tokens seen before this step
            ExperimentEngine.Phase[] phase = {ExperimentEngine.Phase.PREFILL};
            try (KvCache cache = engine.model().newCache(policy, engine.generator().prefillChunk())) {
                engine.prefillAndDecode(engine.tokens(null, (int) length), decode, cache, (c, p) -> {
                    phase[0] = p;
                    long step = c.seenTokens() - peak[2];
                    peak[2] = c.seenTokens();
                    long kv = c.stats().peakBytes();
                    long act = budget.passBytes(policy, step, Math.min(c.seenTokens(), c.storedTokens() + step));
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
                if (!DeviceOutOfMemory.isOutOfMemory(e)) {
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

        int chunk = budget.prefillChunk();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("memory_limit_bytes", limit);
        out.put("weights_bytes", weights);
        out.put("kv_bytes_per_token", spec.bytesPerToken());
        out.put("activation_source", allowance.source());
        out.put("activation_fixed_bytes", activations.bytes(chunk, 0));
        out.put("activation_bytes_per_key", chunk * activations.bytesPerTokenKey());
        Activations computed = allowance.computed();
        out.put("activation_computed_fixed_bytes", computed.bytes(chunk, 0));
        out.put("activation_computed_bytes_per_key", chunk * computed.bytesPerTokenKey());
        Activations measured = allowance.measured();
        out.put("activation_measured_fixed_bytes", measured == null ? null : measured.bytes(chunk, 0));
        out.put("activation_measured_bytes_per_key", measured == null ? null : chunk * measured.bytesPerTokenKey());
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
        out.put("predicted_max_tokens", predictedMaxTokens(budget, cell, limit));
        out.put("lengths", lengths);
        return out;
    }

    /** Measured tokens at the OOM (or the longest run) beside the predicted threshold, per policy. */
    @Override
    public Map<String, JFreeChart> charts(List<Map<String, Object>> rows) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (Map<String, Object> row : rows) {
            double measured = row.get("max_tokens_before_oom") instanceof Number n ? n.doubleValue()
                    : ReportCharts.num(row.get("max_sequence_length"));
            data.addValue(measured, "measured (tokens at OOM, or longest run)", ReportCharts.label(row));
            Object predicted = row.get("predicted_max_tokens");
            data.addValue(predicted instanceof Number n ? n.doubleValue() : ReportCharts.num(row.get("max_length")),
                    "predicted (bounded policies: capped at max_length)", ReportCharts.label(row));
        }
        return Map.of("OOM threshold per policy",
                ReportCharts.bars("Tokens before out of memory", "policy", "tokens", data, true));
    }

    /**
     * The most tokens whose {@link MemoryBudget#footprint} fits the limit with the weights, as
     * {@code GET /capacity} predicts them for the same limit; null for a fixed-budget policy whose
     * cache fits (its memory stops growing), 0 when it does not.
     */
    private Long predictedMaxTokens(MemoryBudget budget, Cell cell, long limit) {
        long max = budget.maxTokensUnder(engine.policy(cell.kvCache()), limit);
        return max < 0 ? null : max;
    }
}
