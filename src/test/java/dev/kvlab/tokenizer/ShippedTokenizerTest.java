package dev.kvlab.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The tokenizer shipped in {@code models/kvlab-tiny}: digits one per token, exact round-trip. */
@EnabledIf("shipped")
class ShippedTokenizerTest {

    static final Path MODEL = Path.of("models", "kvlab-tiny");
    static final Path HELD_OUT = Path.of("src", "main", "resources", "corpus", "heldout.txt");
    static TextTokenizer tokenizer;

    static boolean shipped() {
        return Files.isRegularFile(MODEL.resolve("tokenizer.json"));
    }

    @BeforeAll
    static void load() {
        tokenizer = TextTokenizer.load(MODEL);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void hasTheDocumentedVocabulary() {
        assertEquals(4096, tokenizer.vocabSize());
        assertEquals(0, tokenizer.tokenId("<|bos|>").orElseThrow());
        assertEquals(1, tokenizer.tokenId("<|eos|>").orElseThrow());
    }

    @Test
    void digitsAreOneTokenEach() {
        int[] ids = tokenizer.encode("12345");
        assertEquals(5, ids.length);
        for (int i = 0; i < ids.length; i++) {
            assertEquals(String.valueOf(i + 1), tokenizer.decode(new int[] {ids[i]}));
        }
        assertEquals(4 + 1, tokenizer.encode(" 2021").length); // the space stays apart from the digits
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "The pass key is 48213. Remember it.",
        "  Fellow-Citizens of the Senate\r\n\tand House 😀🐳 日本語 e\u0301 “quoted” — ½",
    })
    void roundTripsVariedText(String text) {
        assertEquals(text, tokenizer.decode(tokenizer.encode(text)));
    }

    @Test
    void roundTripsTheHeldOutCorpusAtAboutFourCharactersPerToken() throws IOException {
        String text = Files.readString(HELD_OUT);
        int[] ids = tokenizer.encode(text);
        assertEquals(text, tokenizer.decode(ids));
        double tokensPerChar = (double) ids.length / text.length();
        assertTrue(tokensPerChar > 0.2 && tokensPerChar < 0.3, "tokens/char " + tokensPerChar);
    }
}
