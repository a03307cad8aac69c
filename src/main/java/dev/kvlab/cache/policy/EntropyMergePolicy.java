package dev.kvlab.cache.policy;

import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.CompactionPlan;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.RopeMode;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * This project's method (DESIGN §4): tokens are merged, not dropped, in the spirit of D2O (Wan et
 * al. 2024) and CaM (Zhang et al. 2024), with Token Merging's proportional attention (Bolya et al.
 * 2023) making a merged slot count as the n tokens it stands for. The slot most willing to go is
 * folded into the unprotected slot whose key is most similar on the same head, as a count-weighted
 * mean of keys and values; below {@code similarity} it is dropped instead. Which slot goes first:
 * {@code priority=entropy} ranks by the normalized entropy of each token's own attention row when it
 * was the query (diffuse attention read as low importance); {@code priority=attention} by H2O's
 * accumulated attention, lowest first.
 */
public final class EntropyMergePolicy extends BoundedPolicy {

    /** What decides which slot goes first. */
    public enum Priority {
        ENTROPY, ATTENTION;

        String apiName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** 4 sinks and a quarter of the budget as the recent window are never merged or dropped (DESIGN §4). */
    static final Defaults DEFAULTS = new Defaults(4, 4, RopeMode.ORIGINAL);
    static final PolicyType TYPE = PolicyType.bounded("entropy-merge", DEFAULTS,
            Set.of("recent", "priority", "similarity"), EntropyMergePolicy::create);

    private final Priority priority;
    private final float similarity;

    EntropyMergePolicy(Limits limits, Priority priority, float similarity) {
        super(limits);
        this.priority = priority;
        this.similarity = similarity;
    }

    private static EntropyMergePolicy create(Limits limits, PolicyParams params) {
        Priority priority = Priority.valueOf(params.choice("priority", "entropy", Set.of("entropy", "attention"))
                .toUpperCase(Locale.ROOT));
        double similarity = params.number("similarity", 0.0);
        if (similarity < -1 || similarity > 1) {
            throw new PolicyException("similarity", "is a cosine similarity threshold in [-1, 1], got " + similarity);
        }
        return new EntropyMergePolicy(limits, priority, (float) similarity);
    }

    @Override
    public String name() {
        return TYPE.name();
    }

    @Override
    void ownParams(Map<String, Object> params) {
        params.put("priority", priority.apiName());
        params.put("similarity", (double) similarity);
    }

    @Override
    public boolean observesAttention() {
        return true;
    }

    @Override
    boolean addsReceivedAttention() {
        return priority == Priority.ATTENTION;
    }

    @Override
    void observe(LayerCache cache, AttentionObservation attention) {
        if (priority == Priority.ATTENTION) {
            cache.scores().addReceived(attention);
            return;
        }
        float[] entropy = attention.rowEntropy(); // one value per new token, the last slots of every head
        int first = cache.stored() - entropy.length;
        for (int h = 0; h < cache.spec().kvHeads(); h++) {
            cache.scores().setMeans(h, first, entropy);
        }
    }

    @Override
    CompactionPlan plan(LayerCache cache, AttentionObservation attention, Window window) {
        int heads = cache.spec().kvHeads();
        float[][] go = new float[heads][];
        int[][] likely = new int[heads][];
        for (int h = 0; h < heads; h++) {
            go[h] = goPriority(cache, h);
            float[] stay = new float[go[h].length];
            for (int s = 0; s < stay.length; s++) {
                stay[s] = -go[h][s];
            }
            likely[h] = lowest(stay, window);
        }
        KeySimilarity similarities = new KeySimilarity(cache, likely);
        int[][] keep = new int[heads][];
        int[][] target = new int[heads][];
        int merges = 0;
        for (int h = 0; h < heads; h++) {
            int head = h;
            MergePlanner.HeadPlan p = MergePlanner.plan(window, go[h], cache.counts(h),
                    priority == Priority.ATTENTION, slot -> similarities.row(head, slot), similarity);
            keep[h] = p.keep();
            target[h] = p.target();
            merges += p.merges();
        }
        return merges == 0 ? CompactionPlan.dropOnly(keep) : new CompactionPlan(keep, target);
    }

    /** Per slot of one head, higher goes first. */
    private float[] goPriority(LayerCache cache, int head) {
        if (priority == Priority.ENTROPY) {
            return cache.scores().means(head);
        }
        float[] scores = cache.scores().scores(head);
        float[] go = new float[scores.length];
        for (int s = 0; s < go.length; s++) {
            go[s] = -scores[s];
        }
        return go;
    }
}
