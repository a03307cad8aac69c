package dev.kvlab.experiment;

import dev.kvlab.serving.web.ApiException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiFunction;

/**
 * The kind-specific parameters of a {@code POST /experiments} body, read with range checks. Every
 * read records the field, so {@link #rejectUnknown()} can name a misspelled one; every bad value is a
 * 400 problem naming its field. {@link #resolved()} is what the experiment stores: the values used,
 * defaults included.
 */
final class ExperimentParams {

    private final Map<String, Object> raw;
    private final Set<String> read = new LinkedHashSet<>();
    private final Map<String, Object> resolved = new LinkedHashMap<>();

    ExperimentParams(Map<String, Object> raw) {
        this.raw = raw;
    }

    int integer(String field, int fallback, int min, int max) {
        read.add(field);
        Object value = raw.get(field);
        int result = value == null ? fallback : toInt(field, value, min, max);
        resolved.put(field, result);
        return result;
    }

    double number(String field, double fallback, double min, double max) {
        read.add(field);
        Object value = raw.get(field);
        double result = value == null ? fallback : toDouble(field, value, min, max);
        resolved.put(field, result);
        return result;
    }

    /** A list of integers; absent means {@code fallback}; an empty list is refused. */
    List<Integer> integers(String field, List<Integer> fallback, int min, int max) {
        return list(field, fallback, "integers", (name, item) -> toInt(name, item, min, max));
    }

    List<Double> numbers(String field, List<Double> fallback, double min, double max) {
        return list(field, fallback, "numbers", (name, item) -> toDouble(name, item, min, max));
    }

    /** Reads a list element by element, naming a bad element {@code field[i]}. */
    private <T> List<T> list(String field, List<T> fallback, String kind, BiFunction<String, Object, T> element) {
        read.add(field);
        Object value = raw.get(field);
        List<T> result = new ArrayList<>();
        if (value == null) {
            result.addAll(fallback);
        } else if (value instanceof List<?> list) {
            if (list.isEmpty()) {
                throw ApiException.badRequest(field, "must not be empty");
            }
            for (int i = 0; i < list.size(); i++) {
                result.add(element.apply(field + "[" + i + "]", list.get(i)));
            }
        } else {
            throw ApiException.badRequest(field, "must be a list of " + kind);
        }
        resolved.put(field, result);
        return result;
    }

    /** A list of names, each one of {@code allowed}, without repeats; absent means {@code fallback}. */
    List<String> strings(String field, List<String> fallback, Set<String> allowed) {
        List<String> result = list(field, fallback, "strings", (name, item) -> {
            if (!(item instanceof String s) || !allowed.contains(s)) {
                throw ApiException.badRequest(name, "must be one of " + String.join(", ", new java.util.TreeSet<>(allowed))
                        + ", got " + item);
            }
            return s;
        });
        if (result.stream().distinct().count() != result.size()) {
            throw ApiException.badRequest(field, "must not repeat a name, got " + result);
        }
        return result;
    }

    /** One of {@code allowed}, or {@code fallback} when absent. */
    String choice(String field, String fallback, Set<String> allowed) {
        String value = string(field, fallback);
        if (!allowed.contains(value)) {
            throw ApiException.badRequest(field, "must be one of " + String.join(", ", new java.util.TreeSet<>(allowed))
                    + ", got " + value);
        }
        return value;
    }

    /** A string, or null when absent and {@code fallback} is null; blank is refused. */
    String string(String field, String fallback) {
        read.add(field);
        Object value = raw.get(field);
        if (value != null && !(value instanceof String)) {
            throw ApiException.badRequest(field, "must be a string");
        }
        String result = value == null ? fallback : (String) value;
        if (value != null && result.isBlank()) {
            throw ApiException.badRequest(field, "must not be blank");
        }
        if (result != null) {
            resolved.put(field, result);
        }
        return result;
    }

    Long optionalLong(String field, long min) {
        read.add(field);
        Object value = raw.get(field);
        if (value == null) {
            return null;
        }
        if (!(value instanceof Number n) || n instanceof Double || n instanceof Float) {
            throw ApiException.badRequest(field, "must be an integer");
        }
        if (n.longValue() < min) {
            throw ApiException.badRequest(field, "must be >= " + min + ", got " + n);
        }
        resolved.put(field, n.longValue());
        return n.longValue();
    }

    void rejectUnknown() {
        for (String field : raw.keySet()) {
            if (!read.contains(field)) {
                throw ApiException.badRequest(field, "unknown field for this kind; known fields: "
                        + String.join(", ", new TreeSet<>(read)));
            }
        }
    }

    Map<String, Object> resolved() {
        return resolved;
    }

    static void requireOrdered(String field, int low, String highField, int high) {
        if (low > high) {
            throw ApiException.badRequest(highField, "must be >= " + field + " (" + low + "), got " + high);
        }
    }

    private static int toInt(String field, Object value, int min, int max) {
        if (!(value instanceof Number n) || n instanceof Double || n instanceof Float) {
            throw ApiException.badRequest(field, "must be an integer");
        }
        long v = n.longValue();
        if (v < min || v > max) {
            throw ApiException.badRequest(field, "must be in [" + min + ", " + max + "], got " + v);
        }
        return (int) v;
    }

    private static double toDouble(String field, Object value, double min, double max) {
        if (!(value instanceof Number n)) {
            throw ApiException.badRequest(field, "must be a number");
        }
        double v = n.doubleValue();
        if (!(v >= min && v <= max)) {
            throw ApiException.badRequest(field, "must be in [" + min + ", " + max + "], got " + v);
        }
        return v;
    }
}
