package dev.kvlab.tokenizer;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * The Python {@code str} methods chat templates call, which Java's String lacks or defines differently:
 * {@code startswith}, {@code endswith}, {@code strip}, {@code lstrip} and {@code rstrip} (whitespace, or
 * the given characters), {@code split} (on a literal separator keeping empty parts, or on runs of
 * whitespace), {@code upper} and {@code lower}. Any other call falls through to the next resolver.
 */
final class PythonStringMethods extends ELResolver {

    private static final Object NOT_HANDLED = new Object();

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(base instanceof String text) || method == null) {
            return null;
        }
        Object result = call(text, method.toString(), params == null ? new Object[0] : params);
        if (result == NOT_HANDLED) {
            return null;
        }
        context.setPropertyResolved(true);
        return result;
    }

    private static Object call(String text, String method, Object[] args) {
        if (args.length > 1) {
            return NOT_HANDLED;
        }
        String arg = args.length == 0 || args[0] == null ? null : args[0].toString();
        return switch (method) {
            case "startswith" -> arg == null ? NOT_HANDLED : text.startsWith(arg);
            case "endswith" -> arg == null ? NOT_HANDLED : text.endsWith(arg);
            case "strip" -> strip(text, arg, true, true);
            case "lstrip" -> strip(text, arg, true, false);
            case "rstrip" -> strip(text, arg, false, true);
            case "split" -> arg == null ? splitOnWhitespace(text) : split(text, arg);
            case "upper" -> args.length == 0 ? text.toUpperCase(Locale.ROOT) : NOT_HANDLED;
            case "lower" -> args.length == 0 ? text.toLowerCase(Locale.ROOT) : NOT_HANDLED;
            default -> NOT_HANDLED;
        };
    }

    private static String strip(String text, String chars, boolean left, boolean right) {
        int start = 0;
        int end = text.length();
        while (left && start < end && strippable(text.charAt(start), chars)) {
            start++;
        }
        while (right && end > start && strippable(text.charAt(end - 1), chars)) {
            end--;
        }
        return text.substring(start, end);
    }

    private static boolean strippable(char c, String chars) {
        return chars == null ? isPythonSpace(c) : chars.indexOf(c) >= 0;
    }

    /** Python's {@code str.isspace} for one character: Unicode whitespace and the separators U+001C..U+001F. */
    static boolean isPythonSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }

    private static List<String> split(String text, String separator) {
        if (separator.isEmpty()) {
            throw new ChatTemplateException("split() separator must not be empty");
        }
        List<String> parts = new ArrayList<>();
        int from = 0;
        for (int at = text.indexOf(separator); at >= 0; at = text.indexOf(separator, from)) {
            parts.add(text.substring(from, at));
            from = at + separator.length();
        }
        parts.add(text.substring(from));
        return parts;
    }

    private static List<String> splitOnWhitespace(String text) {
        List<String> parts = new ArrayList<>();
        int i = 0;
        while (i < text.length()) {
            while (i < text.length() && isPythonSpace(text.charAt(i))) {
                i++;
            }
            int start = i;
            while (i < text.length() && !isPythonSpace(text.charAt(i))) {
                i++;
            }
            if (i > start) {
                parts.add(text.substring(start, i));
            }
        }
        return parts;
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
