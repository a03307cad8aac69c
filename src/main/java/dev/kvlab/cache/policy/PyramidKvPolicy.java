package dev.kvlab.cache.policy;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * PyramidKV (Cai et al. 2024, "PyramidKV: Dynamic KV Cache Compression based on Pyramidal Information
 * Funneling"): {@link SnapKvPolicy SnapKV}'s scoring with per-layer budgets that fall linearly from
 * the lowest layer to the highest, because lower layers spread their attention over many tokens and
 * higher layers concentrate it on a few.
 *
 * <p>The layers share out the total of a uniform budget. With the average budget B ({@code budget},
 * or {@code budget_ratio} of the tokens seen) and the observation window W, layer l of L keeps
 * W + c_l slots per head, where c_l falls linearly from {@code 2C − C/β} in layer 0 to {@code C/β}
 * in layer L − 1 (C = B − W, β = {@code beta}, 20 as in the paper), rounded so that the c_l sum to
 * exactly L·C: the whole cache holds what SnapKV at budget B holds. Every layer keeps at least
 * {@code sinks + 1} slots beyond its window.
 */
public final class PyramidKvPolicy extends SnapKvPolicy {
    static final PolicyType TYPE = new PolicyType("pyramidkv", PolicyType.withBoundedKeys(keys()), PyramidKvPolicy::create);

    private final double beta;

    private PyramidKvPolicy(Limits limits, Scoring scoring, double beta) {
        super(limits, scoring);
        this.beta = beta;
    }

    private static Set<String> keys() {
        Set<String> keys = new HashSet<>(Scoring.KEYS);
        keys.add("beta");
        return keys;
    }

    private static PyramidKvPolicy create(PolicyParams params, PolicyType.Context context) {
        Scoring scoring = Scoring.read(params);
        double beta = params.number("beta", 20.0);
        if (!(beta >= 1) || Double.isInfinite(beta)) {
            throw new PolicyException("beta", "is the ratio of the average budget to the top layer's, at least 1 (1: uniform), got " + beta);
        }
        return new PyramidKvPolicy(BoundedParams.read(params, context, DEFAULTS, scoring.window()), scoring, beta);
    }

    @Override
    public String name() {
        return TYPE.name();
    }

    @Override
    void ownParams(Map<String, Object> params) {
        super.ownParams(params);
        params.put("beta", beta);
    }

    @Override
    public int budgetAt(int layer, int layers, long seenTokens) {
        return layerBudget(budgetAt(seenTokens), layer, layers);
    }

    /** Layer 0's budget, the largest, whatever the number of layers. */
    @Override
    public int maxSlots() {
        return hasFixedBudget() ? layerBudget(budgetAt(0), 0, 2) + compactEvery() - 1 : Integer.MAX_VALUE;
    }

    /** Slots per head of layer {@code layer} of {@code layers} when the average is {@code average}. */
    int layerBudget(int average, int layer, int layers) {
        int window = window();
        long beyond = average - window; // C
        if (layers == 1 || beyond <= 0) {
            return average;
        }
        double low = Math.max(sinks() + 1, beyond / beta);
        double high = 2.0 * beyond - low;
        if (high < low) {
            return average;
        }
        return window + (int) (cumulative(high, low, layers, layer + 1) - cumulative(high, low, layers, layer));
    }

    /** The rounded sum of the first {@code count} layers' shares; for {@code count = layers} exactly L·C. */
    private static long cumulative(double high, double low, int layers, int count) {
        double step = (high - low) / (layers - 1);
        return Math.round(count * high - step * count * (count - 1) / 2.0);
    }
}
