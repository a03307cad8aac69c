package dev.kvlab.serving.web;

import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.cache.policy.PolicyException;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.model.Architecture;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/** Checks that {@code /generate} and {@code /v1} share, so all name fields the same way. */
public final class RequestChecks {
    static final int MAX_STOP_SEQUENCES = 16;

    private RequestChecks() {}

    /** The stop strings, at most {@value #MAX_STOP_SEQUENCES}, each non-empty and well-formed. */
    public static List<String> stops(List<String> stop) {
        if (stop == null) {
            return List.of();
        }
        if (stop.size() > MAX_STOP_SEQUENCES) {
            throw ApiException.badRequest("stop",
                    "at most " + MAX_STOP_SEQUENCES + " stop strings, got " + stop.size());
        }
        for (int i = 0; i < stop.size(); i++) {
            if (stop.get(i) == null || stop.get(i).isEmpty()) {
                throw ApiException.badRequest("stop[" + i + "]", "stop strings must be non-empty");
            }
            TextChecks.requireWellFormed("stop[" + i + "]", stop.get(i));
        }
        return stop;
    }

    /**
     * The request's cache policy, or {@code kvlab.serving.default-kv-cache}'s when it sends none; a
     * registry error becomes a 400 naming {@code kv_cache.<field>}.
     */
    public static CachePolicy policy(Map<String, ?> kvCache, KvlabProperties.Serving limits, Architecture architecture) {
        try {
            return PolicyRegistry.create(kvCache != null ? kvCache : limits.defaultKvCacheParams(), architecture);
        } catch (PolicyException e) {
            throw ApiException.badRequest("kv_cache." + e.field(), e.getMessage());
        }
    }

    /**
     * The OpenAI sampling fields ({@code temperature} [1.0] up to {@code maxTemperature}, {@code top_p}
     * [1.0], the {@code top_k} extension [0 = off], {@code seed} [random]) as sampling parameters.
     */
    public static SamplingParams openAiSampling(Double temperature, Double topP, Integer topK, Long seed,
            double maxTemperature) {
        double temp = temperature == null ? 1.0 : temperature;
        if (!(temp >= 0 && temp <= maxTemperature)) {
            throw ApiException.badRequest("temperature", "must be between 0 and " + maxTemperature + ", got " + temp);
        }
        double p = topP == null ? 1.0 : topP;
        if (!(p > 0 && p <= 1)) {
            throw ApiException.badRequest("top_p", "must be in (0, 1], got " + p);
        }
        int k = topK == null ? 0 : topK;
        if (k < 0) {
            throw ApiException.badRequest("top_k", "must be >= 0 (0 = off), got " + k);
        }
        long s = seed != null ? seed : ThreadLocalRandom.current().nextLong();
        return new SamplingParams(temp, k, p, s);
    }

    /**
     * Refuses the OpenAI fields that would change the result and that kvlab does not implement:
     * {@code n} above 1, a non-empty {@code logit_bias}, non-zero penalties.
     */
    public static void refuseUnsupported(Integer n, Map<String, Object> logitBias, Double frequencyPenalty,
            Double presencePenalty) {
        if (n != null && n != 1) {
            throw ApiException.badRequest("n", "only n=1 is supported, got " + n);
        }
        if (logitBias != null && !logitBias.isEmpty()) {
            throw ApiException.badRequest("logit_bias", "is not supported; leave it out or empty");
        }
        if (frequencyPenalty != null && frequencyPenalty != 0) {
            throw ApiException.badRequest("frequency_penalty", "is not supported; leave it out or 0");
        }
        if (presencePenalty != null && presencePenalty != 0) {
            throw ApiException.badRequest("presence_penalty", "is not supported; leave it out or 0");
        }
    }
}
