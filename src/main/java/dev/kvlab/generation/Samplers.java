package dev.kvlab.generation;

import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import java.util.random.RandomGenerator;

/**
 * Builds {@link Sampler}s from small pieces, as llama3.java does: temperature scaling, a top-k
 * filter, a top-p (nucleus) filter and a seeded categorical draw. Each piece is a plain function,
 * so the order (temperature → top-k → top-p → draw, as in Hugging Face) reads in {@link #of}.
 */
public final class Samplers {

    /** Always the highest logit; ties go to the lowest id. */
    public static final Sampler GREEDY = Samplers::argmax;

    private Samplers() {
    }

    /** The sampler a request asks for; a fresh one per request, since it owns its random state. */
    public static Sampler of(SamplingParams params) {
        if (params.isGreedy()) {
            return GREEDY;
        }
        UnaryOperator<Candidates> topK = topK(params.topK());
        UnaryOperator<Candidates> topP = topP(params.topP());
        RandomGenerator random = new SplittableRandom(params.seed());
        double temperature = params.temperature();
        return logits -> draw(topP.apply(topK.apply(Candidates.all(scale(logits, temperature)))), random);
    }

    /**
     * The index of the largest logit, lowest index on ties.
     *
     * @throws IllegalStateException if a logit is NaN or all are -Infinity
     */
    public static int argmax(float[] logits) {
        if (logits.length == 0) {
            throw new IllegalArgumentException("logits are empty");
        }
        int best = 0;
        for (int i = 0; i < logits.length; i++) {
            if (Float.isNaN(logits[i])) {
                throw new IllegalStateException("logit of token " + i + " is NaN: the model output is broken");
            }
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        if (logits[best] == Float.NEGATIVE_INFINITY) {
            throw new IllegalStateException("all " + logits.length + " logits are -Infinity: no token can be sampled");
        }
        return best;
    }

    /**
     * Temperature scaling {@code x / T}, computed as {@code (x − max) / T}: softmax ignores the
     * shift, and a value ≤ 0 cannot overflow however small T is (it tends to −∞, the greedy limit).
     * Returns a new array.
     */
    static float[] scale(float[] logits, double temperature) {
        float max = logits[argmax(logits)];
        float[] scaled = new float[logits.length];
        for (int i = 0; i < logits.length; i++) {
            // the equality test keeps +Infinity maxima at 0 instead of Inf − Inf = NaN
            scaled[i] = logits[i] == max ? 0f : (float) (((double) logits[i] - max) / temperature);
        }
        return scaled;
    }

    /** Keeps the {@code k} highest logits; 0 keeps all. */
    static UnaryOperator<Candidates> topK(int k) {
        return k == 0 ? UnaryOperator.identity() : candidates -> candidates.best(k);
    }

    /**
     * Keeps the smallest set of highest-probability candidates whose mass reaches {@code p}; at
     * least one. Before the sort it drops the candidates that can never enter the nucleus
     * (llama3.java's trick), since sorting a 128k vocabulary costs more than the drawing: every
     * member but the most likely one has probability above (1 − p)/(n − 1), because the n − 1 or
     * fewer candidates from it on must still hold more than 1 − p. Half that bound leaves room for
     * rounding.
     */
    static UnaryOperator<Candidates> topP(double p) {
        if (p >= 1) {
            return UnaryOperator.identity();
        }
        return candidates -> {
            double[] weights = weights(candidates);
            double total = sum(weights);
            double hopeless = 0.5 * (1 - p) / Math.max(1, candidates.size() - 1) * total;
            Candidates ranked = candidates.keep(i -> weights[i] >= hopeless).ranked();
            double[] rankedWeights = weights(ranked); // same max, so on the same scale as total
            double target = p * total;
            double mass = 0;
            int keep = 0;
            while (keep < rankedWeights.length) {
                mass += rankedWeights[keep++];
                if (mass >= target) {
                    break;
                }
            }
            return ranked.best(keep);
        };
    }

    /** Draws one candidate with probability softmax(logits) restricted to the candidates. */
    static int draw(Candidates candidates, RandomGenerator random) {
        double[] weights = weights(candidates);
        double r = random.nextDouble() * sum(weights);
        double cumulative = 0;
        for (int i = 0; i < weights.length; i++) {
            cumulative += weights[i];
            if (r < cumulative) {
                return candidates.ids()[i];
            }
        }
        // rounding left r in the last sliver: take the last candidate that has any weight
        for (int i = weights.length - 1; ; i--) {
            if (weights[i] > 0) {
                return candidates.ids()[i];
            }
        }
    }

    /** Unnormalized softmax {@code exp(x − max)}: the max weighs exactly 1, nothing overflows. */
    static double[] weights(Candidates candidates) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < candidates.size(); i++) {
            max = Math.max(max, candidates.logit(i));
        }
        double[] weights = new double[candidates.size()];
        for (int i = 0; i < weights.length; i++) {
            float x = candidates.logit(i);
            weights[i] = x == max ? 1.0 : Math.exp((double) x - max);
        }
        return weights;
    }

    private static double sum(double[] values) {
        double total = 0;
        for (double v : values) {
            total += v;
        }
        return total;
    }
}
