package dev.kvlab.data;

import java.text.BreakIterator;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.ToIntFunction;

/**
 * Builds pass-key retrieval documents (Mohtashami &amp; Jaggi 2023, "Landmark Attention"): a random
 * five-digit key stated once ("The pass key is 48213. Remember it.") at a chosen depth inside
 * filler text, then the question "What is the pass key? The pass key is", answered by
 * " 48213.". The trainer mixes whole documents into training so the model learns to retrieve; the
 * pass-key experiment feeds the prompt and checks the answer, which is where cache policies that
 * drop the key sentence fail while perplexity still looks fine.
 *
 * <p>Filler is a run of consecutive sentences from a list (natural text from the corpus, or
 * {@link #CLASSIC_FILLER}), starting at a random sentence and wrapping around. Lengths are in
 * tokens as counted by the given function (a tokenizer, or {@link #charsPerToken}); sentences are
 * whole, so the prompt comes within one sentence of the target. Deterministic for a given
 * {@link SplittableRandom} seed.
 */
public final class PassKeyDocuments {

    /** The repeated filler of the original pass-key test, for evaluation on text the model never saw. */
    public static final List<String> CLASSIC_FILLER = List.of(
            "The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.", "There and back again.");

    public static final String QUESTION = "What is the pass key? The pass key is";

    /** Longer filler sentences are skipped: they would make the depth and length too coarse. */
    public static final int MAX_SENTENCE_TOKENS = 96;

    private final List<String> sentences;
    /** Token count of {@code " " + sentence}, counted on first use (0 = not yet); races only repeat work. */
    private final int[] sentenceTokens;
    private final ToIntFunction<String> tokenCounter;

    /**
     * @param fillerSentences sentences to draw filler from, without surrounding spaces, in reading order
     * @param tokenCounter the number of tokens of a piece of text
     */
    public PassKeyDocuments(List<String> fillerSentences, ToIntFunction<String> tokenCounter) {
        if (fillerSentences.isEmpty()) {
            throw new IllegalArgumentException("no filler sentences");
        }
        this.sentences = List.copyOf(fillerSentences);
        this.sentenceTokens = new int[sentences.size()];
        this.tokenCounter = tokenCounter;
    }

    /** A token counter that assumes a fixed number of characters per token. */
    public static ToIntFunction<String> charsPerToken(double chars) {
        return text -> (int) Math.ceil(text.length() / chars);
    }

    /** Splits natural text into sentences (whitespace inside them collapsed to single spaces). */
    public static List<String> sentences(String text) {
        BreakIterator it = BreakIterator.getSentenceInstance(Locale.ENGLISH);
        it.setText(text);
        List<String> out = new ArrayList<>();
        for (int start = it.first(), end = it.next(); end != BreakIterator.DONE; start = end, end = it.next()) {
            String sentence = text.substring(start, end).strip().replaceAll("\\s+", " ");
            if (!sentence.isEmpty()) {
                out.add(sentence);
            }
        }
        return out;
    }

    /** The key statement placed in the filler. */
    public static String keySentence(int key) {
        return "The pass key is " + key + ". Remember it.";
    }

    /**
     * One document.
     *
     * @param prompt filler with the key sentence inside, ending in {@link #QUESTION}
     * @param answer what should follow the prompt: {@code " 48213."}
     * @param key the five-digit key
     * @param keyOffset character offset of the key sentence in the prompt
     * @param promptTokens the prompt's length in tokens, as counted
     * @param depth the key sentence's position: filler tokens before it / all filler tokens
     */
    public record PassKeyDocument(String prompt, String answer, int key, int keyOffset, int promptTokens, double depth) {

        /** The whole text a model is trained on: prompt followed by the answer. */
        public String trainingText() {
            return prompt + answer;
        }

        /** The answer without the final period, as an evaluation compares it ({@code " 48213"}). */
        public String answerDigits() {
            return " " + key;
        }
    }

    /**
     * Builds a document whose prompt is about {@code targetTokens} long, with the key sentence
     * after a {@code depth} fraction (0 = first, 1 = just before the question) of the filler.
     */
    public PassKeyDocument generate(int targetTokens, double depth, SplittableRandom random) {
        if (depth < 0 || depth > 1) {
            throw new IllegalArgumentException("depth must be in [0, 1]: " + depth);
        }
        int key = random.nextInt(10_000, 100_000);
        String keySentence = keySentence(key);
        int fixedTokens = tokenCounter.applyAsInt(" " + keySentence) + tokenCounter.applyAsInt(" " + QUESTION);
        int fillerTokens = Math.max(0, targetTokens - fixedTokens);
        int beforeTarget = (int) Math.round(depth * fillerTokens);

        int next = usableFrom(random.nextInt(sentences.size()));
        StringBuilder prompt = new StringBuilder();
        int before = 0;
        while (before + tokens(next) / 2 < beforeTarget) { // stop at the sentence end nearest the target
            append(prompt, sentences.get(next));
            before += tokens(next);
            next = usableFrom(next + 1);
        }
        int keyOffset = prompt.isEmpty() ? 0 : prompt.length() + 1;
        append(prompt, keySentence);
        int after = 0;
        int afterTarget = fillerTokens - before;
        while (after + tokens(next) / 2 < afterTarget) {
            append(prompt, sentences.get(next));
            after += tokens(next);
            next = usableFrom(next + 1);
        }
        append(prompt, QUESTION);
        int promptTokens = before + after + fixedTokens;
        double actualDepth = before + after == 0 ? 0 : (double) before / (before + after);
        return new PassKeyDocument(prompt.toString(), " " + key + ".", key, keyOffset, promptTokens, actualDepth);
    }

    /** Builds a document at a depth drawn uniformly from [0, 1]. */
    public PassKeyDocument generate(int targetTokens, SplittableRandom random) {
        return generate(targetTokens, random.nextDouble(), random);
    }

    /** The first sentence from index {@code i} on (wrapping around) that is short enough. */
    private int usableFrom(int i) {
        for (int tried = 0; tried < sentences.size(); tried++) {
            int k = (i + tried) % sentences.size();
            if (tokens(k) <= MAX_SENTENCE_TOKENS) {
                return k;
            }
        }
        throw new IllegalArgumentException("no filler sentence of at most " + MAX_SENTENCE_TOKENS + " tokens");
    }

    private int tokens(int i) {
        if (sentenceTokens[i] == 0) {
            sentenceTokens[i] = Math.max(1, tokenCounter.applyAsInt(" " + sentences.get(i)));
        }
        return sentenceTokens[i];
    }

    private static void append(StringBuilder text, String sentence) {
        if (!text.isEmpty()) {
            text.append(' ');
        }
        text.append(sentence);
    }
}
