package dev.kvlab.training.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvlab.training.corpus.Corpus;
import dev.kvlab.training.corpus.Document;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainTokenizerTest {

    @Test
    void ensureInTrainsOnceAndKeepsAnExistingTokenizer(@TempDir Path modelDir) throws IOException {
        Corpus corpus = new Corpus(List.of(
                new Document(Document.Source.MOBY_DICK, "chapter_1", TinyTokenizers.TEXT),
                new Document(Document.Source.MOBY_DICK, "chapter_135", "Held out, never trained on: zyzzyva.")));
        Path file = TrainTokenizer.ensureIn(modelDir, corpus, 300, 1024);
        assertEquals(modelDir.resolve("tokenizer.json"), file);
        assertTrue(Files.isRegularFile(modelDir.resolve("tokenizer_config.json")));
        String written = Files.readString(file);
        assertTrue(!written.contains("zyz"), "held-out text must not shape the vocabulary");

        Files.writeString(file, written + " ");
        TrainTokenizer.ensureIn(modelDir, corpus, 300, 1024);
        assertEquals(written + " ", Files.readString(file));
    }
}
