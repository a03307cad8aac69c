package dev.kvlab.cache.policy;

import dev.kvlab.cache.Quantization;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Reads {@code quantization} ({@code none} | {@code int8} | {@code int4}), {@code group_size} and
 * {@code residual} from a {@code kv_cache} object, for every policy in one place: how slots are
 * stored is independent of which slots a policy keeps. Whether {@code group_size} divides the
 * model's head dimension is checked where the model is known ({@link Quantization#requireFits}).
 */
final class QuantizationParams {
    static final Set<String> KEYS = Set.of("quantization", "group_size", "residual");
    private static final int MAX_GROUP_SIZE = 4096;
    private static final int MAX_RESIDUAL = 1 << 20;

    private QuantizationParams() {}

    /**
     * Removes the quantization keys from {@code kvCache} and reads them.
     *
     * @throws PolicyException naming the key at fault
     */
    static Quantization take(Map<String, Object> kvCache) {
        Map<String, Object> own = new LinkedHashMap<>();
        for (String key : KEYS) {
            if (kvCache.containsKey(key)) {
                own.put(key, kvCache.remove(key));
            }
        }
        PolicyParams p = new PolicyParams(own);
        String scheme = p.choice("quantization", "none", Set.of("none", "int8", "int4"));
        int groupSize = (int) p.integer("group_size", Quantization.DEFAULT_GROUP_SIZE, 1, MAX_GROUP_SIZE);
        int residual = (int) p.integer("residual", Quantization.DEFAULT_RESIDUAL, 0, MAX_RESIDUAL);
        if (scheme.equals("none")) {
            for (String key : new String[] {"group_size", "residual"}) {
                if (p.has(key)) {
                    throw new PolicyException(key, "applies only with quantization int8 or int4");
                }
            }
            return Quantization.NONE;
        }
        return new Quantization(scheme.equals("int8") ? 8 : 4, groupSize, residual);
    }
}
