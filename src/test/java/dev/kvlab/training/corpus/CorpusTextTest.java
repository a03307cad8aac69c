package dev.kvlab.training.corpus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CorpusTextTest {

    @Test
    void cleaningNormalizesLineEndsAndBlankLines() {
        String raw = "\uFEFF  CHAPTER 1. Loomings.  \r\n\r\n\r\n\r\nCall me Ishmael.\t\rSome years ago—never mind.\n\n";
        assertEquals("CHAPTER 1. Loomings.\n\nCall me Ishmael.\nSome years ago—never mind.", CorpusText.clean(raw));
    }

    @Test
    void cleaningKeepsTheTextItself() {
        String text = "Fellow-Citizens: the “Union” is strong — 1,234 ships; it’s 3½ times larger.";
        assertEquals(text, CorpusText.clean(text));
    }

    @Test
    void sotuReadsOnlyTheTextFilesOfAddresses() {
        Optional<Document> doc = CorpusText.sotuDocument("1807_thomas_jefferson_dr.txt", " The text. \n");
        assertEquals(Optional.of(new Document(Document.Source.SOTU, "1807_thomas_jefferson_dr", "The text.")), doc);
        assertTrue(CorpusText.sotuDocument("1807_thomas_jefferson_dr.json", "{}").isEmpty());
        assertTrue(CorpusText.sotuDocument("README.md", "x").isEmpty());
        assertTrue(CorpusText.sotuDocument("1999_bill_clinton_d.txt", "  \n").isEmpty());
        assertEquals(1807, CorpusText.sotuYear("1807_thomas_jefferson_dr"));
    }

    @Test
    void mobyDickReadsTheBookPartsButNotContentsOrTheWholeBook() {
        assertTrue(CorpusText.mobyDickDocument("chapter_12.txt", "CHAPTER 12. Biographical.").isPresent());
        assertTrue(CorpusText.mobyDickDocument("epilogue.txt", "Epilogue").isPresent());
        assertTrue(CorpusText.mobyDickDocument("etymology.txt", "ETYMOLOGY.").isPresent());
        assertTrue(CorpusText.mobyDickDocument("contents.txt", "CONTENTS").isEmpty());
        assertTrue(CorpusText.mobyDickDocument("data.txt", "the whole book").isEmpty());
        assertTrue(CorpusText.mobyDickDocument("chapter_12.json", "{}").isEmpty());
    }

    @Test
    void mobyDickPartsSortInBookOrder() {
        List<String> sorted = List.of("epilogue", "chapter_10", "extracts", "chapter_2", "etymology").stream()
                .sorted(java.util.Comparator.comparingInt(CorpusText::mobyDickOrder)).toList();
        assertEquals(List.of("etymology", "extracts", "chapter_2", "chapter_10", "epilogue"), sorted);
    }
}
