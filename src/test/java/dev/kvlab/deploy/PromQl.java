package dev.kvlab.deploy;

import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the metric names out of a PromQL expression as Grafana stores it: a small lexer that skips
 * strings, label matchers, range selectors, durations, numbers, Grafana variables, grouping clauses
 * and function names, and fails on unbalanced brackets. Names are what Prometheus stores, so a
 * histogram appears as {@code x_bucket}, {@code x_sum} or {@code x_count}.
 */
final class PromQl {

    private static final Set<String> KEYWORDS = Set.of("by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "and", "or", "unless", "atan2", "inf", "nan");
    private static final Pattern GROUPING = Pattern.compile(
            "\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)");
    private static final Pattern GRAFANA_VARIABLE = Pattern.compile("\\$\\{[^}]*}|\\$\\w+");
    private static final Pattern LABEL_VALUES = Pattern.compile("^\\s*label_values\\(\\s*(.*?)\\s*,\\s*[a-zA-Z_]\\w*\\s*\\)\\s*$");
    private static final Pattern QUERY_RESULT = Pattern.compile("^\\s*query_result\\((.*)\\)\\s*$");

    private PromQl() {}

    /** Metric names in a Grafana templating query: {@code label_values(selector, label)} or {@code query_result(expr)}. */
    static Set<String> variableQueryMetricNames(String query) {
        Matcher m = LABEL_VALUES.matcher(query);
        if (m.matches()) {
            return metricNames(m.group(1));
        }
        m = QUERY_RESULT.matcher(query);
        if (m.matches()) {
            return metricNames(m.group(1));
        }
        throw new IllegalArgumentException("unsupported Grafana variable query: " + query);
    }

    /** The metric names an expression reads. */
    static Set<String> metricNames(String expr) {
        String s = stripStringsAndCheckBrackets(expr);
        s = s.replaceAll("\\{[^{}]*}", " ");          // label matchers
        s = s.replaceAll("\\[[^\\[\\]]*]", " ");      // range and subquery selectors
        s = GRAFANA_VARIABLE.matcher(s).replaceAll(" ");
        s = GROUPING.matcher(s).replaceAll(" ");      // by (policy) …: label names, not metrics
        Set<String> names = new LinkedHashSet<>();
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (Character.isDigit(c) || (c == '.' && i + 1 < s.length() && Character.isDigit(s.charAt(i + 1)))) {
                while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '.')) {
                    i++; // 0.99, 1e3, 5m, 0x1f
                }
            } else if (Character.isLetter(c) || c == '_' || c == ':') {
                int start = i;
                while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_'
                        || s.charAt(i) == ':')) {
                    i++;
                }
                String word = s.substring(start, i);
                int next = i;
                while (next < s.length() && Character.isWhitespace(s.charAt(next))) {
                    next++;
                }
                boolean call = next < s.length() && s.charAt(next) == '(';
                if (!call && !KEYWORDS.contains(word.toLowerCase())) {
                    names.add(word);
                }
            } else {
                i++;
            }
        }
        return names;
    }

    /** The expression with its string literals blanked; brackets outside strings must balance. */
    private static String stripStringsAndCheckBrackets(String expr) {
        StringBuilder out = new StringBuilder();
        StringBuilder open = new StringBuilder();
        for (int i = 0; i < expr.length(); i++) {
            char c = expr.charAt(i);
            if (c == '"' || c == '\'' || c == '`') {
                int end = i + 1;
                while (end < expr.length() && expr.charAt(end) != c) {
                    end += expr.charAt(end) == '\\' && c != '`' ? 2 : 1;
                }
                if (end >= expr.length()) {
                    throw new IllegalArgumentException("unterminated string in " + expr);
                }
                out.append("\"\"");
                i = end;
                continue;
            }
            if ("([{".indexOf(c) >= 0) {
                open.append(c);
            } else if (")]}".indexOf(c) >= 0) {
                char expected = "([{".charAt(")]}".indexOf(c));
                if (open.length() == 0 || open.charAt(open.length() - 1) != expected) {
                    throw new IllegalArgumentException("unbalanced '" + c + "' at " + i + " in " + expr);
                }
                open.setLength(open.length() - 1);
            }
            out.append(c);
        }
        if (open.length() > 0) {
            throw new IllegalArgumentException("unclosed '" + open + "' in " + expr);
        }
        return out.toString();
    }
}
