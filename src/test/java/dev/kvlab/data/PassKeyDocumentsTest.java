package dev.kvlab.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvlab.data.PassKeyDocuments.PassKeyDocument;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.ToIntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PassKeyDocumentsTest {

    /** One token per word, a rough stand-in for a tokenizer. */
    static final ToIntFunction<String> WORDS = text -> text.isBlank() ? 0 : text.strip().split("\\s+").length;

    static final List<String> NATURAL = PassKeyDocuments.sentences("""
            Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse,
            and nothing particular to interest me on shore, I thought I would sail about a little and see the
            watery part of the world. It is a way I have of driving off the spleen and regulating the circulation.
            Whenever I find myself growing grim about the mouth, I account it high time to get to sea as soon as I
            can. This is my substitute for pistol and ball. There is nothing surprising in this.
            """);

    final PassKeyDocuments classic = new PassKeyDocuments(PassKeyDocuments.CLASSIC_FILLER, WORDS);

    @ParameterizedTest
    @ValueSource(doubles = {0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0})
    void keySitsAtTheRequestedDepth(double depth) {
        PassKeyDocument doc = classic.generate(500, depth, new SplittableRandom(7));
        String prompt = doc.prompt();
        assertTrue(prompt.startsWith(PassKeyDocuments.keySentence(doc.key()), doc.keyOffset()));
        double fillerChars = prompt.length() - PassKeyDocuments.QUESTION.length()
                - PassKeyDocuments.keySentence(doc.key()).length() - 2;
        double charDepth = doc.keyOffset() / fillerChars;
        assertEquals(depth, charDepth, 0.03, "key at char " + doc.keyOffset() + " of " + prompt.length());
        assertEquals(depth, doc.depth(), 0.03);
    }

    @Test
    void promptEndsWithTheQuestionAndTheAnswerIsTheKey() {
        PassKeyDocument doc = classic.generate(200, 0.3, new SplittableRandom(1));
        assertTrue(doc.prompt().endsWith(" What is the pass key? The pass key is"));
        assertTrue(doc.key() >= 10_000 && doc.key() <= 99_999);
        assertEquals(" " + doc.key() + ".", doc.answer());
        assertEquals(" " + doc.key(), doc.answerDigits());
        assertEquals(doc.prompt() + doc.answer(), doc.trainingText());
        assertEquals(1, count(doc.prompt(), String.valueOf(doc.key())));
    }

    @Test
    void lengthIsCloseToTheTarget() {
        for (int target : new int[] {64, 256, 1024}) {
            PassKeyDocument doc = classic.generate(target, 0.5, new SplittableRandom(target));
            int counted = WORDS.applyAsInt(doc.prompt());
            assertEquals(counted, doc.promptTokens(), 2);
            assertEquals(target, counted, 5, "a sentence of the classic filler is at most 4 words");
        }
    }

    @Test
    void sameSeedSameDocumentOtherSeedOtherDocument() {
        PassKeyDocuments natural = new PassKeyDocuments(NATURAL, WORDS);
        PassKeyDocument a = natural.generate(120, new SplittableRandom(42));
        PassKeyDocument b = natural.generate(120, new SplittableRandom(42));
        PassKeyDocument c = natural.generate(120, new SplittableRandom(43));
        assertEquals(a, b);
        assertNotEquals(a.key(), c.key());
    }

    @Test
    void naturalFillerIsConsecutiveSentences() {
        PassKeyDocument doc = new PassKeyDocuments(NATURAL, WORDS).generate(60, 1.0, new SplittableRandom(3));
        String filler = doc.prompt().substring(0, doc.keyOffset()).strip();
        String[] parts = filler.split("(?<=[.!?]) ");
        int first = NATURAL.indexOf(parts[0]);
        assertTrue(first >= 0, parts[0]);
        for (int i = 1; i < parts.length; i++) {
            assertEquals(NATURAL.get((first + i) % NATURAL.size()), parts[i]);
        }
    }

    @Test
    void sentencesAreSplitAndWhitespaceCollapsed() {
        assertEquals(List.of("Call me Ishmael.", "Some years ago, never mind how long precisely."),
                PassKeyDocuments.sentences("Call me Ishmael.  Some years ago,\nnever mind how long precisely.\n"));
        assertEquals("Call me Ishmael.", NATURAL.get(0));
    }

    @Test
    void sentencesTooLongForFillerAreSkipped() {
        String huge = "word ".repeat(PassKeyDocuments.MAX_SENTENCE_TOKENS + 1).strip() + ".";
        PassKeyDocuments docs = new PassKeyDocuments(List.of("Short one.", huge, "Short two."), WORDS);
        for (int seed = 0; seed < 5; seed++) {
            assertTrue(!docs.generate(300, 0.5, new SplittableRandom(seed)).prompt().contains("word word"));
        }
        PassKeyDocuments onlyHuge = new PassKeyDocuments(List.of(huge), WORDS);
        assertThrows(IllegalArgumentException.class, () -> onlyHuge.generate(300, 0.5, new SplittableRandom(1)));
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> classic.generate(100, 1.5, new SplittableRandom(1)));
        assertThrows(IllegalArgumentException.class, () -> new PassKeyDocuments(List.of(), WORDS));
    }

    private static int count(String text, String part) {
        int n = 0;
        for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
            n++;
        }
        return n;
    }
}
