package dev.kvlab.experiment;

import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.cache.policy.PolicyException;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.model.Architecture;
import dev.kvlab.serving.web.ApiException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Expands {@code policies} × {@code budgets} into the {@code kv_cache} objects cells run with, each
 * validated by {@link PolicyRegistry} (the same rules as {@code /generate}), so a bad budget is a 400
 * before anything is queued. {@code full} takes no budget and appears once.
 */
final class PolicyGrid {

    private PolicyGrid() {}

    /** @param budgets null: each policy as given; else each bounded policy once per budget */
    static List<Map<String, Object>> expand(List<Map<String, Object>> policies, List<Integer> budgets,
            Architecture architecture) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < policies.size(); i++) {
            Map<String, Object> policy = policies.get(i);
            boolean full = PolicyRegistry.DEFAULT_POLICY.equals(policy.getOrDefault("policy", PolicyRegistry.DEFAULT_POLICY));
            if (budgets == null || full) {
                validate(policy, architecture, "policies[" + i + "]");
                addOnce(out, policy);
                continue;
            }
            for (int j = 0; j < budgets.size(); j++) {
                Map<String, Object> withBudget = new LinkedHashMap<>(policy);
                withBudget.remove("budget_ratio");
                withBudget.put("budget", budgets.get(j));
                try {
                    PolicyRegistry.create(withBudget, architecture);
                } catch (PolicyException e) {
                    String field = e.field().equals("budget") ? "budgets[" + j + "]" : "policies[" + i + "]." + e.field();
                    throw ApiException.badRequest(field, e.getMessage());
                }
                addOnce(out, withBudget);
            }
        }
        return out;
    }

    static CachePolicy validate(Map<String, Object> policy, Architecture architecture, String where) {
        try {
            return PolicyRegistry.create(policy, architecture);
        } catch (PolicyException e) {
            throw ApiException.badRequest(where + "." + e.field(), e.getMessage());
        }
    }

    /**
     * A short label for plots and CSV: {@code h2o/256}, {@code h2o/256/every16} with {@code compact_every},
     * {@code h2o/256/int8} with a {@code quantization} other than {@code none}.
     */
    @SuppressWarnings("unchecked")
    static String label(Object kvCache) {
        Map<String, Object> p = (Map<String, Object>) kvCache;
        String name = String.valueOf(p.getOrDefault("policy", PolicyRegistry.DEFAULT_POLICY));
        Object budget = p.containsKey("budget") ? p.get("budget") : p.get("budget_ratio");
        Object every = p.get("compact_every");
        String label = budget == null ? name : name + "/" + budget;
        label = every == null ? label : label + "/every" + every;
        Object quantization = p.get("quantization");
        return quantization == null || "none".equals(quantization) ? label : label + "/" + quantization;
    }

    private static void addOnce(List<Map<String, Object>> out, Map<String, Object> policy) {
        if (!out.contains(policy)) {
            out.add(policy);
        }
    }
}
