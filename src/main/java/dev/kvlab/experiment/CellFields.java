package dev.kvlab.experiment;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a stored cell (JSON numbers arrive as whatever Java type the parser chose) into the typed
 * values of a kind's cell record, failing with the field's name when one is missing or of the wrong
 * type, so a corrupt or foreign cell is a clear error on that cell rather than a
 * {@code ClassCastException}.
 */
final class CellFields {

    private final String kind;
    private final Map<String, Object> cell;

    private CellFields(String kind, Map<String, Object> cell) {
        this.kind = kind;
        this.cell = cell;
    }

    static CellFields of(String kind, Map<String, Object> cell) {
        return new CellFields(kind, cell);
    }

    /** The cell's {@code kv_cache} object. */
    @SuppressWarnings("unchecked")
    Map<String, Object> kvCache() {
        if (!(cell.get("kv_cache") instanceof Map<?, ?> kv)) {
            throw invalid("kv_cache", "an object");
        }
        return (Map<String, Object>) kv;
    }

    int integer(String field) {
        return Math.toIntExact(longValue(field));
    }

    /** {@code fallback} when the field is absent (cells stored before it existed). */
    int integer(String field, int fallback) {
        return cell.get(field) == null ? fallback : integer(field);
    }

    long longValue(String field) {
        return number(field).longValue();
    }

    /** Null when the field is absent. */
    Long optionalLong(String field) {
        return cell.get(field) == null ? null : longValue(field);
    }

    double decimal(String field) {
        return number(field).doubleValue();
    }

    String string(String field) {
        if (!(cell.get(field) instanceof String s)) {
            throw invalid(field, "a string");
        }
        return s;
    }

    List<Integer> integers(String field) {
        List<Integer> out = new ArrayList<>();
        for (Object item : list(field)) {
            if (!(item instanceof Number n)) {
                throw invalid(field, "a list of numbers");
            }
            out.add(Math.toIntExact(n.longValue()));
        }
        return List.copyOf(out);
    }

    List<Double> decimals(String field) {
        List<Double> out = new ArrayList<>();
        for (Object item : list(field)) {
            if (!(item instanceof Number n)) {
                throw invalid(field, "a list of numbers");
            }
            out.add(n.doubleValue());
        }
        return List.copyOf(out);
    }

    /** A cell map in the stored field order, starting with its {@code kv_cache}. */
    static Map<String, Object> start(Map<String, Object> kvCache) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kv_cache", kvCache);
        return m;
    }

    private Number number(String field) {
        if (!(cell.get(field) instanceof Number n)) {
            throw invalid(field, "a number");
        }
        return n;
    }

    private List<?> list(String field) {
        if (!(cell.get(field) instanceof List<?> l)) {
            throw invalid(field, "a list");
        }
        return l;
    }

    private IllegalArgumentException invalid(String field, String expected) {
        Object value = cell.get(field);
        return new IllegalArgumentException(kind + " cell: " + field + " must be " + expected + ", got "
                + (value == null ? "nothing" : value + " (" + value.getClass().getSimpleName() + ")"));
    }
}
