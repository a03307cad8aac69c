package dev.kvlab.cache.policy;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Map;
import java.util.Set;

/**
 * Typed reads of a JSON-decoded {@code kv_cache} object, where a number may arrive as Integer, Long,
 * Double, BigInteger or BigDecimal. Every failure is a {@link PolicyException} naming the key; a
 * JSON {@code null} counts as absent.
 */
final class PolicyParams {
    private final Map<String, Object> values;

    PolicyParams(Map<String, Object> values) {
        this.values = values;
    }

    boolean has(String key) {
        return values.get(key) != null;
    }

    /** An integral number in [min, max], or {@code fallback} when absent. */
    long integer(String key, long fallback, long min, long max) {
        Object v = values.get(key);
        if (v == null) {
            return fallback;
        }
        long n;
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            n = ((Number) v).longValue();
        } else if (v instanceof BigInteger b && b.bitLength() < 64) {
            n = b.longValue();
        } else if ((v instanceof Double || v instanceof Float || v instanceof BigDecimal)
                && isIntegral(((Number) v).doubleValue())) {
            n = (long) ((Number) v).doubleValue();
        } else {
            throw new PolicyException(key, "must be an integer, got " + describe(v));
        }
        if (n < min || n > max) {
            throw new PolicyException(key, "must be " + range(min, max) + ", got " + n);
        }
        return n;
    }

    /** A number, or {@code fallback} when absent. */
    double number(String key, double fallback) {
        Object v = values.get(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof Number n) || !Double.isFinite(n.doubleValue())) {
            throw new PolicyException(key, "must be a number, got " + describe(v));
        }
        return n.doubleValue();
    }

    /** One of {@code allowed}, or {@code fallback} when absent. */
    String choice(String key, String fallback, Set<String> allowed) {
        Object v = values.get(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof String s) || !allowed.contains(s)) {
            throw new PolicyException(key, "must be one of " + String.join(", ", allowed.stream().sorted().toList())
                    + ", got " + describe(v));
        }
        return s;
    }

    private static boolean isIntegral(double d) {
        return Double.isFinite(d) && d == Math.rint(d) && Math.abs(d) < 0x1p63;
    }

    private static String range(long min, long max) {
        if (max == Long.MAX_VALUE || max == Integer.MAX_VALUE) {
            return "at least " + min;
        }
        return "between " + min + " and " + max;
    }

    static String describe(Object v) {
        return v instanceof String s ? "\"" + s + "\"" : String.valueOf(v);
    }
}
