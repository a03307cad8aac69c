package dev.kvlab.experiment;

import ai.djl.engine.EngineException;
import ai.djl.pytorch.jni.JniUtils;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.KvSpec;
import dev.kvlab.metrics.GenerationMetrics;
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
 * chunk) + an activation allowance computed for each forward pass from its shape (new tokens × keys;
 * the formula of the server's admission guard, not a measured figure). On the CPU the limit is the
 * memory budget: the cell's {@code memory_limit_bytes}, else {@code kvlab.memory.limit}, else
 * physical memory; a run exceeds it after the forward pass that crosses it. On a GPU a real CUDA OOM
 * also ends the run: it is caught, the caching allocator emptied, {@code kvlab_oom_events_total}
 * counted, and the server keeps serving. The predicted threshold is reported beside the measured one.
 */
final class OomSweepKind implements ExperimentKind {

    /** Activation temporaries per token of a chunk, in hidden-size × dtype units (QKV, MLP, residuals). */
    private static final int HIDDEN_STATE_COPIES = 12;

    private final ExperimentEngine engine;
    private final int maxLength;

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

    private Activations activations() {
        ModelConfig c = engine.model().config();
        return new Activations((long) c.hiddenSize() * HIDDEN_STATE_COPIES * engine.model().dtype().getNumOfBytes(),
                2L * Float.BYTES * c.numHeads(), 2L * Float.BYTES * c.vocabSize());
    }

    @Override
    public Map<String, Object> run(Map<String, Object> cell, Map<String, Object> params) {
        int start = ((Number) cell.get("start_length")).intValue();
        int max = ((Number) cell.get("max_length")).intValue();
        int decode = ((Number) cell.get("decode_tokens")).intValue();
        long limit = cell.get("memory_limit_bytes") instanceof Number n ? n.longValue()
                : engine.memoryLimitBytes() != null ? engine.memoryLimitBytes() : engine.probe().snapshot().totalBytes();
        long weights = engine.weightsBytes();
        Activations activations = activations();
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
        out.put("activation_fixed_bytes", activations.bytes(chunk, 0));
        out.put("activation_bytes_per_key", chunk * activations.scoreBytesPerTokenKey());
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
        if (policy.isBounded()) {
            long slots = (long) policy.maxSlots() + chunk;
            long fixed = spec.layers() * spec.bytesPerSlot() * slots;
            return weights + fixed + activations.bytes(chunk, slots) <= limit ? null : 0L;
        }
        long perToken = spec.bytesPerToken() + chunk * activations.scoreBytesPerTokenKey();
        return Math.max(0, (limit - weights - activations.bytes(chunk, 0)) / perToken);
    }
}
