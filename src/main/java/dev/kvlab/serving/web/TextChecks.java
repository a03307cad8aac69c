package dev.kvlab.serving.web;

/**
 * Checks on client text before it reaches the tokenizer, which works on UTF-8 and cannot represent
 * a lone UTF-16 surrogate (JSON allows {@code "\ud800"}; Unicode text does not).
 */
public final class TextChecks {

    private TextChecks() {}

    /** @throws ApiException 400 naming {@code field} when {@code text} holds an unpaired surrogate */
    public static void requireWellFormed(String field, String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw ApiException.badRequest(field, String.format(
                        "is not valid Unicode: a lone surrogate \\u%04x at character %d", (int) c, i));
            }
        }
    }
}
