package dev.kvlab.generation;

import java.util.List;

/**
 * One token's log-probability under the model, and the most likely tokens at its position.
 *
 * @param logprob natural log; NaN for the first prompt token, which nothing predicts
 * @param top the most likely tokens at this position, most likely first (ties: lower id first)
 */
public record TokenLogprob(int token, double logprob, List<Alternative> top) {

    public TokenLogprob {
        top = List.copyOf(top);
    }

    /** A candidate token at a position and its log-probability. */
    public record Alternative(int token, double logprob) {}

    /** The first prompt token: no context predicts it. */
    static TokenLogprob unpredicted(int token) {
        return new TokenLogprob(token, Double.NaN, List.of());
    }

    /**
     * {@code token}'s log-softmax in {@code logits} and the {@code top} most likely tokens, computed in
     * double from the raw logits.
     */
    static TokenLogprob of(float[] logits, int token, int top) {
        double logZ = logNormalizer(logits);
        int[] best = best(logits, top);
        Alternative[] alternatives = new Alternative[best.length];
        for (int i = 0; i < best.length; i++) {
            alternatives[i] = new Alternative(best[i], logits[best[i]] - logZ);
        }
        return new TokenLogprob(token, logits[token] - logZ, List.of(alternatives));
    }

    /** {@code log Σ exp(logits)}, computed stably in double: log-softmax is a logit minus this. */
    static double logNormalizer(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (float l : logits) {
            sum += Math.exp(l - max);
        }
        return max + Math.log(sum);
    }

    /** The ids of the {@code k} largest logits, largest first, lower id first on ties. */
    private static int[] best(float[] logits, int k) {
        int n = Math.min(k, logits.length);
        int[] ids = new int[n];
        int filled = 0;
        for (int id = 0; id < logits.length; id++) {
            float v = logits[id];
            if (filled == n && (n == 0 || v <= logits[ids[n - 1]])) {
                continue;
            }
            int at = filled < n ? filled++ : n - 1;
            while (at > 0 && v > logits[ids[at - 1]]) {
                ids[at] = ids[at - 1];
                at--;
            }
            ids[at] = id;
        }
        return ids;
    }
}
