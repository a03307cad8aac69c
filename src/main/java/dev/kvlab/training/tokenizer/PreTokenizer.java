package dev.kvlab.training.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into the words BPE merges within, exactly as the written {@code tokenizer.json}
 * will at encode time: Hugging Face's {@code Digits(individual_digits=true)} (every numeric
 * character is a word of its own, so no merge ever joins digits and numbers are read digit by
 * digit) followed by GPT-2's ByteLevel regex (contractions, letters, numbers, punctuation,
 * whitespace, with a leading space kept on the word it precedes).
 */
public final class PreTokenizer {

    /** GPT-2's split pattern, as in Hugging Face's ByteLevel pre-tokenizer. */
    public static final String GPT2_PATTERN =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    private static final Pattern GPT2 = Pattern.compile(GPT2_PATTERN, Pattern.UNICODE_CHARACTER_CLASS);

    private PreTokenizer() {}

    /** The words of {@code text}, in order; their concatenation is {@code text}. */
    public static List<String> split(String text) {
        List<String> words = new ArrayList<>();
        forEachWord(text, words::add);
        return words;
    }

    /** Feeds each word of {@code text} to {@code sink}, in order. */
    public static void forEachWord(String text, Consumer<String> sink) {
        int runStart = 0;
        int i = 0;
        while (i < text.length()) {
            int cp = text.codePointAt(i);
            int next = i + Character.charCount(cp);
            if (isNumeric(cp)) {
                splitRun(text, runStart, i, sink);
                sink.accept(text.substring(i, next));
                runStart = next;
            }
            i = next;
        }
        splitRun(text, runStart, text.length(), sink);
    }

    private static void splitRun(String text, int from, int to, Consumer<String> sink) {
        if (from >= to) {
            return;
        }
        Matcher m = GPT2.matcher(text).region(from, to);
        while (m.find()) {
            sink.accept(m.group());
        }
    }

    /** Rust's {@code char::is_numeric}: general category Nd, Nl or No. */
    static boolean isNumeric(int cp) {
        int type = Character.getType(cp);
        return type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER
                || type == Character.OTHER_NUMBER;
    }
}
