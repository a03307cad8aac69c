package dev.kvlab.generation;

import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.CacheStats;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.model.TransformerModel;

/**
 * Token-by-token perplexity of a text under a cache policy: each token is fed alone, so the cache
 * is compacted exactly as during decoding and every prediction sees only what the policy kept
 * (the measure StreamingLLM and kvpress report). A chunked forward would let the tokens of one chunk
 * see each other uncompressed and flatter the bounded policies.
 */
public final class PerplexityEvaluator {
    private final TransformerModel model;

    public PerplexityEvaluator(TransformerModel model) {
        this.model = model;
    }

    /** Negative log-likelihood figures of one run. */
    public record Result(double meanNll, int predictedTokens, CacheStats cache, long nanos) {
        public double perplexity() {
            return Math.exp(meanNll);
        }
    }

    /**
     * @param tokens the text as token ids (BOS included if the model expects it); tokens 1…n−1 are
     *     predicted
     */
    public Result evaluate(int[] tokens, CachePolicy policy) {
        if (tokens.length < 2) {
            throw new IllegalArgumentException("perplexity needs at least two tokens");
        }
        long start = System.nanoTime();
        double nll = 0;
        try (KvCache cache = model.newCache(policy, 1)) {
            for (int i = 0; i < tokens.length - 1; i++) {
                if (Thread.currentThread().isInterrupted()) {
                    throw new GenerationCancelledException("perplexity evaluation cancelled");
                }
                float[] logits;
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    logits = model.forward(new int[] {tokens[i]}, cache, false).toFloatArray();
                }
                nll += negativeLogLikelihood(logits, tokens[i + 1]);
            }
            return new Result(nll / (tokens.length - 1), tokens.length - 1, cache.stats(), System.nanoTime() - start);
        }
    }

    /** −log softmax(logits)[target], computed stably in double. */
    static double negativeLogLikelihood(float[] logits, int target) {
        return TokenLogprob.logNormalizer(logits) - logits[target];
    }
}
