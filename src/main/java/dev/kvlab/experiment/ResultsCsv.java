package dev.kvlab.experiment;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Result rows as RFC 4180 CSV: nested objects become dotted columns ({@code kv_cache.budget}); a list
 * of objects ({@code samples}, {@code lengths}) becomes one line per element, the cell's other
 * columns repeated, so a memory-growth curve is a plain table; other lists are written as JSON-ish text.
 */
final class ResultsCsv {

    private ResultsCsv() {}

    static String write(List<Map<String, Object>> rows) {
        List<Map<String, Object>> lines = new ArrayList<>();
        for (Map<String, Object> row : rows) {
            lines.addAll(expand(row));
        }
        Set<String> columns = new LinkedHashSet<>();
        lines.forEach(l -> columns.addAll(l.keySet()));
        StringBuilder out = new StringBuilder();
        out.append(String.join(",", columns.stream().map(ResultsCsv::quote).toList())).append("\r\n");
        for (Map<String, Object> line : lines) {
            List<String> values = new ArrayList<>();
            for (String column : columns) {
                Object v = line.get(column);
                values.add(v == null ? "" : quote(String.valueOf(v)));
            }
            out.append(String.join(",", values)).append("\r\n");
        }
        return out.toString();
    }

    private static List<Map<String, Object>> expand(Map<String, Object> row) {
        Map<String, Object> flat = new LinkedHashMap<>();
        String listKey = null;
        List<?> list = null;
        for (Map.Entry<String, Object> e : row.entrySet()) {
            if (list == null && e.getValue() instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof Map) {
                listKey = e.getKey();
                list = l;
            } else {
                flatten(e.getKey(), e.getValue(), flat);
            }
        }
        if (list == null) {
            return List.of(flat);
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object element : list) {
            Map<String, Object> line = new LinkedHashMap<>(flat);
            flatten(listKey, element, line);
            out.add(line);
        }
        return out;
    }

    private static void flatten(String key, Object value, Map<String, Object> into) {
        if (value instanceof Map<?, ?> map) {
            map.forEach((k, v) -> flatten(key + "." + k, v, into));
        } else {
            into.put(key, value);
        }
    }

    private static String quote(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }
}
