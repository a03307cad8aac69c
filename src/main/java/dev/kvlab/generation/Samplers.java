package dev.kvlab.generation;

import dev.kvlab.model.DeviceDraws;
import dev.kvlab.model.ForwardPass;
import java.util.Arrays;
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
    public static final Sampler GREEDY = new Sampler() {
        @Override
        public int sample(float[] logits) {
            return argmax(logits);
        }

        @Override
        public int sample(StepLogits logits) {
            ForwardPass.Argmax best = logits.argmax();
            checkBest(best.logit(), best.id());
            return best.id();
        }
    };

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
        int k = params.topK();
        return new Sampler() {
            private double planned = Double.NaN; // the uniform number a plan took, until the sample uses it

            @Override
            public int sample(float[] logits) {
                return sampleRow(logits, random.nextDouble());
            }

            private int sampleRow(float[] logits, double uniform) {
                return draw(topP.apply(topK.apply(Candidates.all(scale(logits, temperature)))), uniform);
            }

            @Override
            public DeviceDraws.Plan plan() {
                if (k > 0) {
                    return null;
                }
                planned = random.nextDouble();
                return new DeviceDraws.Plan(temperature, params.topP(), planned);
            }

            @Override
            public int sample(StepLogits logits) {
                if (k > 0) {
                    return drawFromTop(logits.top(k), temperature, topP, random.nextDouble());
                }
                boolean wasPlanned = !Double.isNaN(planned);
                double uniform = wasPlanned ? planned : random.nextDouble();
                planned = Double.NaN;
                DeviceDraws.Drawn drawn = wasPlanned ? logits.drawn() : null;
                if (drawn != null && drawn.id() >= 0) {
                    return drawn.id();
                }
                float[] probabilities = logits.probabilities(temperature);
                double total = sum(probabilities);
                if (!(total > 0) || Double.isInfinite(total)) {
                    // a NaN, an all -Infinity or a +Infinity row: the whole-row path fails or draws as it should
                    return sampleRow(logits.last(), uniform);
                }
                return params.topP() >= 1 ? drawFromProbabilities(probabilities, total, uniform)
                        : drawFromNucleus(probabilities, total, params.topP(), uniform);
            }
        };
    }

    /**
     * The draw {@link #of} makes over the whole row, made from the row's best k logits alone: the
     * global maximum is among them, so temperature scaling gives the same values, and ranking them
     * (descending, lower id first) gives the candidates top-k keeps, in the same order. Only equal
     * logits at the k-th place may be chosen differently from the whole-row path.
     */
    static int drawFromTop(ForwardPass.Top top, double temperature, UnaryOperator<Candidates> topP,
            double uniform) {
        int n = top.ids().length;
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) {
            float logit = top.logits()[i];
            if (Float.isNaN(logit)) {
                throw new IllegalStateException("logit of token " + top.ids()[i] + " is NaN: the model output is broken");
            }
            keys[i] = Candidates.rankKey(logit, top.ids()[i]);
        }
        Arrays.sort(keys);
        float[] ranked = new float[n];
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = (int) keys[i];
            ranked[i] = Candidates.logitOf(keys[i]);
        }
        checkBest(ranked[0], ids[0]);
        int chosen = draw(topP.apply(new Candidates(scale(ranked, temperature), indices(n), true)), uniform);
        return ids[chosen];
    }

    private static int[] indices(int n) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = i;
        }
        return ids;
    }

    /** The checks {@link #argmax} makes, for a maximum found elsewhere (NaN propagates into a maximum). */
    private static void checkBest(float logit, int id) {
        if (Float.isNaN(logit)) {
            throw new IllegalStateException("logit of token " + id + " is NaN: the model output is broken");
        }
        if (logit == Float.NEGATIVE_INFINITY) {
            throw new IllegalStateException("all logits are -Infinity: no token can be sampled");
        }
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

    /** Draws one candidate with probability softmax(logits) restricted to the candidates, by {@code uniform} ∈ [0, 1). */
    static int draw(Candidates candidates, double uniform) {
        double[] weights = weights(candidates);
        double r = uniform * sum(weights);
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

    /**
     * The draw {@link #draw} makes over a whole row, from its probabilities: one uniform number, scaled
     * by their sum {@code total}, against their running total. Probabilities computed in f32 on the device differ
     * from the host's double exponentials only in the last bits, so the same seed draws the same
     * tokens but for a uniform number that falls within that rounding of a boundary.
     */
    static int drawFromProbabilities(float[] probabilities, double total, double uniform) {
        double r = uniform * total;
        double cumulative = 0;
        for (int i = 0; i < probabilities.length; i++) {
            cumulative += probabilities[i];
            if (r < cumulative) {
                return i;
            }
        }
        for (int i = probabilities.length - 1; ; i--) {
            if (probabilities[i] > 0) {
                return i;
            }
        }
    }

    /**
     * The top-p draw {@link #topP} and {@link #draw} make over a whole row, from its probabilities: the
     * same hopeless-candidate bound, the nucleus in descending order (lower id first on ties), and one
     * uniform number against the nucleus's running total. No exponential is computed in Java.
     */
    static int drawFromNucleus(float[] probabilities, double total, double p, double uniform) {
        double hopeless = 0.5 * (1 - p) / Math.max(1, probabilities.length - 1) * total;
        long[] keys = new long[probabilities.length];
        int n = 0;
        for (int id = 0; id < probabilities.length; id++) {
            if (probabilities[id] >= hopeless) {
                keys[n++] = Candidates.rankKey(probabilities[id], id);
            }
        }
        keys = Arrays.copyOf(keys, n);
        Arrays.sort(keys);
        double target = p * total;
        double mass = 0;
        int keep = 0;
        while (keep < n) {
            mass += Candidates.logitOf(keys[keep++]);
            if (mass >= target) {
                break;
            }
        }
        float[] nucleus = new float[keep];
        for (int i = 0; i < keep; i++) {
            nucleus[i] = Candidates.logitOf(keys[i]);
        }
        return (int) keys[drawFromProbabilities(nucleus, mass, uniform)];
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

    private static double sum(float[] values) {
        double total = 0;
        for (float v : values) {
            total += v;
        }
        return total;
    }

    private static double sum(double[] values) {
        double total = 0;
        for (double v : values) {
            total += v;
        }
        return total;
    }
}
