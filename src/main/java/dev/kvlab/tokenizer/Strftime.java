package dev.kvlab.tokenizer;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.temporal.TemporalAccessor;
import java.util.Locale;
import java.util.Map;

/**
 * Python's {@code strftime} for the directives chat templates use ({@code strftime_now("%d %b %Y")}
 * in Llama 3.1 and later), in the C locale Python defaults to. An unknown directive is an error rather
 * than literal text, so a template never silently renders a wrong date.
 */
final class Strftime {

    private static final Map<Character, String> PATTERNS = Map.ofEntries(
            Map.entry('a', "EEE"), Map.entry('A', "EEEE"), Map.entry('b', "MMM"), Map.entry('B', "MMMM"),
            Map.entry('d', "dd"), Map.entry('e', "ppd"), Map.entry('H', "HH"), Map.entry('I', "hh"),
            Map.entry('j', "DDD"), Map.entry('m', "MM"), Map.entry('M', "mm"), Map.entry('p', "a"),
            Map.entry('S', "ss"), Map.entry('y', "yy"), Map.entry('Y', "yyyy"));

    private Strftime() {}

    /** {@code strftime_now(format)} as transformers provides it: the local time, formatted. */
    public static String now(String format) {
        return format(format, ZonedDateTime.now());
    }

    static String format(String format, TemporalAccessor time) {
        return formatter(format).format(time);
    }

    private static DateTimeFormatter formatter(String format) {
        DateTimeFormatterBuilder builder = new DateTimeFormatterBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%') {
                builder.appendLiteral(c);
                continue;
            }
            if (i + 1 == format.length()) {
                throw new ChatTemplateException("strftime format '" + format + "' ends with '%'");
            }
            char directive = format.charAt(++i);
            boolean unpadded = directive == '-' && i + 1 < format.length(); // glibc's %-d: no leading zero
            if (unpadded) {
                directive = format.charAt(++i);
            }
            if (directive == '%') {
                builder.appendLiteral('%');
                continue;
            }
            String pattern = PATTERNS.get(directive);
            if (pattern == null) {
                throw new ChatTemplateException("strftime directive %" + directive + " is not supported");
            }
            builder.appendPattern(unpadded ? pattern.substring(pattern.length() - 1) : pattern);
        }
        return builder.toFormatter(Locale.ENGLISH);
    }
}
