package dev.kvlab.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvlab.training.tokenizer.TinyTokenizers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextTokenizerTest {

    @TempDir
    static Path dir;
    static TextTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = TextTokenizer.load(TinyTokenizers.write(dir, 320));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void missingFileNamesThePath(@TempDir Path empty) {
        TokenizerException e = assertThrows(TokenizerException.class, () -> TextTokenizer.load(empty));
        assertTrue(e.getMessage().contains("tokenizer.json not found") && e.getMessage().contains(empty.toString()),
                e.getMessage());
    }

    @Test
    void corruptFilesAreRejectedClearly(@TempDir Path tmp) throws IOException {
        Path notJson = Files.writeString(tmp.resolve("bad.json"), "{\"version\": \"1.0\", \"model\": ");
        assertTrue(assertThrows(TokenizerException.class, () -> TextTokenizer.load(notJson))
                .getMessage().contains("not valid JSON"));
        Path noModel = Files.writeString(tmp.resolve("empty.json"), "{\"version\": \"1.0\"}");
        assertTrue(assertThrows(TokenizerException.class, () -> TextTokenizer.load(noModel))
                .getMessage().contains("no model.vocab"));
        Path badModel = Files.writeString(tmp.resolve("nonsense.json"),
                "{\"version\": \"1.0\", \"model\": {\"type\": \"Nonsense\", \"vocab\": {\"a\": 0}}}");
        assertTrue(assertThrows(TokenizerException.class, () -> TextTokenizer.load(badModel))
                .getMessage().contains("cannot load tokenizer"));
    }

    @Test
    void longInputsAreNotTruncated() {
        String text = "Call me Ishmael. ".repeat(400);
        int[] ids = tokenizer.encode(text);
        assertTrue(ids.length > 1000, "got " + ids.length);
        assertEquals(text, tokenizer.decode(ids));
    }

    @Test
    void vocabularyLookups() {
        assertEquals(320, tokenizer.vocabSize());
        assertEquals(1, tokenizer.tokenId("<|eos|>").orElseThrow());
        assertTrue(tokenizer.isSpecial(0));
        assertFalse(tokenizer.isSpecial(tokenizer.tokenId("Ġ").orElseThrow()));
        assertTrue(tokenizer.tokenId("no such token").isEmpty());
        assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {320}));
        assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {-1}));
    }

    @Test
    void closedTokenizerRefusesWork() {
        TextTokenizer other = TextTokenizer.load(dir);
        other.close();
        other.close();
        assertThrows(TokenizerException.class, () -> other.encode("x"));
    }

    @Test
    void concurrentRequestsShareOneTokenizer() throws Exception {
        List<String> texts = List.of("Call me Ishmael.", "日本語 😀", "In 1776 the revenue was $12,345.", " spaced  out ");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                String text = texts.get(i % texts.size());
                int[] expected = tokenizer.encode(text);
                results.add(pool.submit(() -> {
                    int[] ids = tokenizer.encode(text);
                    return Arrays.equals(expected, ids) && tokenizer.decode(ids).equals(text);
                }));
            }
            for (Future<Boolean> result : results) {
                assertTrue(result.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void streamingConcatenatesToTheFullTextAndNeverEmitsReplacementCharacters() {
        String text = "Whale 🐳 ahoy! 日本語 e\u0301 — “quoted” 1851.\r\n\tThe end 👩‍👩‍👧";
        int[] ids = tokenizer.encode(text);
        StreamingDecoder decoder = tokenizer.newStreamingDecoder();
        StringBuilder streamed = new StringBuilder();
        int heldBack = 0;
        for (int id : ids) {
            String piece = decoder.push(id);
            assertFalse(piece.contains("\uFFFD"), () -> "piece with U+FFFD after " + streamed);
            heldBack += piece.isEmpty() ? 1 : 0;
            streamed.append(piece);
        }
        streamed.append(decoder.finish());
        assertEquals(text, streamed.toString());
        assertEquals(ids.length, decoder.tokenCount());
        assertTrue(heldBack > 0, "multi-byte characters span tokens in a 320-token vocabulary");
    }

    @Test
    void streamingEmitsEachCompletedCharacterAtOnce() {
        String text = "ab 😀";
        int[] ids = tokenizer.encode(text);
        StreamingDecoder decoder = tokenizer.newStreamingDecoder();
        List<String> pieces = new ArrayList<>();
        for (int id : ids) {
            pieces.add(decoder.push(id));
        }
        assertEquals("", decoder.finish());
        assertEquals("😀", pieces.get(pieces.size() - 1));
        assertEquals(text, String.join("", pieces));
    }

    @Test
    void streamingSkipsSpecialTokensAndFlushesIncompleteBytes() {
        int[] emoji = tokenizer.encode("😀");
        assertTrue(emoji.length > 1);
        StreamingDecoder decoder = tokenizer.newStreamingDecoder();
        assertEquals("", decoder.push(0));
        assertEquals("", decoder.push(emoji[0]));
        assertEquals("\uFFFD", decoder.finish()); // the bytes never completed: say so at the end
    }
}
