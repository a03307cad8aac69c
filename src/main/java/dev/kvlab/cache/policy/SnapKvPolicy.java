package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.CompactionPlan;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * SnapKV (Li et al. 2024, "SnapKV: LLM Knows What You are Looking for Before Generation"): the last
 * {@code window} prompt tokens act as an observation window; each earlier key is scored by the
 * attention those queries pay it (summed over the window, averaged, or with {@code heads=max} the
 * largest, over the query heads of its KV group), the scores are smoothed along the sequence by
 * average or max pooling of width {@code kernel} so that a kept token keeps its neighbours, and each
 * KV head keeps the {@code budget − window} best keys plus the window itself.
 *
 * <p>Chunked prefill: the votes are cast by the last {@code window} tokens of each prompt chunk that
 * leaves the layer over budget. For a prompt within one chunk ({@code kvlab.prefill.chunk}, 512 by
 * default) that is the paper's method exactly; for a longer prompt, earlier chunks are compacted by
 * their own last window before the question at the prompt's end is seen, as kvpress's chunked
 * presses do. During decoding the paper keeps every new token; a bounded cache cannot, so each new
 * token's attention is added to the scores and the lowest-scored key goes, as {@code h2o} does,
 * starting from the window's votes.
 */
public class SnapKvPolicy extends BoundedPolicy {

    /** How the scores are smoothed along the sequence. */
    enum Pooling {
        AVG, MAX
    }

    /** No sinks; the protected recent slots are the observation window, a parameter of its own. */
    static final Defaults DEFAULTS = new Defaults(0, 0, RopeMode.ORIGINAL);
    static final PolicyType TYPE = new PolicyType("snapkv",
            PolicyType.withBoundedKeys(Scoring.KEYS), SnapKvPolicy::create);

    private final int window;
    private final int kernel;
    private final Pooling pooling;
    private final boolean maxOverHeads;

    SnapKvPolicy(Limits limits, Scoring scoring) {
        super(limits);
        this.window = scoring.window();
        this.kernel = scoring.kernel();
        this.pooling = scoring.pooling();
        this.maxOverHeads = scoring.maxOverHeads();
    }

    /** Reads the window first: the limits protect it, so a budget too small names it. */
    private static SnapKvPolicy create(PolicyParams params, PolicyType.Context context) {
        Scoring s = Scoring.read(params);
        return new SnapKvPolicy(BoundedParams.read(params, context, DEFAULTS, s.window()), s);
    }

    /**
     * SnapKV's scoring parameters, shared with the policies built on it. {@code heads} says how the
     * votes of a KV group's query heads combine: {@code mean} as the paper and kvpress do for grouped
     * queries, or {@code max}, so that a key one query head relies on is not outvoted by the others.
     */
    record Scoring(int window, int kernel, Pooling pooling, boolean maxOverHeads) {
        static final Set<String> KEYS = Set.of("window", "kernel", "pooling", "heads");

        static Scoring read(PolicyParams params) {
            int window = (int) params.integer("window", 32, 1, Integer.MAX_VALUE);
            int kernel = (int) params.integer("kernel", 5, 1, Integer.MAX_VALUE);
            if (kernel % 2 == 0) {
                throw new PolicyException("kernel", "must be odd, so the pooling is centred on each slot, got " + kernel);
            }
            Pooling pooling = Pooling.valueOf(
                    params.choice("pooling", "avg", Set.of("avg", "max")).toUpperCase(Locale.ROOT));
            boolean maxOverHeads = params.choice("heads", "mean", Set.of("mean", "max")).equals("max");
            return new Scoring(window, kernel, pooling, maxOverHeads);
        }
    }

    @Override
    public String name() {
        return TYPE.name();
    }

    /** The protected observation window, in slots. */
    int window() {
        return window;
    }

    @Override
    public boolean observesAttention() {
        return true;
    }

    /** Decode steps add the attention received, as H2O does; a prefill sets the votes. */
    @Override
    boolean addsReceivedAttention() {
        return true;
    }

    /** The window is the protected recent slots: {@code recent} is not a parameter of its own. */
    @Override
    boolean takesRecent() {
        return false;
    }

    @Override
    void ownParams(Map<String, Object> params) {
        params.put("window", window);
        params.put("kernel", kernel);
        params.put("pooling", pooling.name().toLowerCase(Locale.ROOT));
        params.put("heads", maxOverHeads ? "max" : "mean");
    }

    @Override
    void observe(LayerCache cache, AttentionObservation attention) {
        if (attention.tokens() == 1) {
            cache.scores().addReceived(attention);
            return;
        }
        float[][] votes = attention.lastRowsSums(Math.min(window, attention.tokens()), maxOverHeads);
        for (int h = 0; h < cache.spec().kvHeads(); h++) {
            cache.scores().set(h, 0, pool(votes[h]));
        }
    }

    /** Pooling of width {@code kernel} centred on each slot, over the slots that exist (no padding values). */
    float[] pool(float[] scores) {
        int half = kernel / 2;
        float[] out = new float[scores.length];
        for (int s = 0; s < scores.length; s++) {
            int from = Math.max(0, s - half);
            int to = Math.min(scores.length, s + half + 1);
            float v = pooling == Pooling.MAX ? Float.NEGATIVE_INFINITY : 0f;
            for (int i = from; i < to; i++) {
                v = pooling == Pooling.MAX ? Math.max(v, scores[i]) : v + scores[i];
            }
            out[s] = pooling == Pooling.MAX ? v : v / (to - from);
        }
        return out;
    }

    @Override
    CompactionPlan plan(LayerCache cache, AttentionObservation attention, Window w) {
        return droppingLowest(cache, w, h -> s -> cache.scores().score(h, s));
    }
}
