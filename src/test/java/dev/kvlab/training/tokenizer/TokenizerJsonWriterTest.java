package dev.kvlab.training.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvlab.tokenizer.TextTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The written tokenizer.json, loaded by DJL's native Hugging Face tokenizer. */
class TokenizerJsonWriterTest {

    @TempDir
    static Path dir;
    static TextTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = TextTokenizer.load(TinyTokenizers.write(dir, 400));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "Call me Ishmael.",
        "",
        " leading space",
        "   three leading spaces and trailing   ",
        "tabs\tand\r\nwindows\r\nline ends\n\n\n",
        "emoji 😀🐳 and a family 👩‍👩‍👧 and flags 🇺🇸",
        "日本語のテキスト、中文文本, 한국어",
        "combining: e\u0301 a\u0308 Zalgo z\u0351\u0352\u0353",
        "mixed: naïve café — “quotes” ‘and’ … ½ ٣",
        "control \u0001\u001f and NUL \u0000 and DEL \u007f",
        "digits 1776 and $12,345.67 and 00042",
    })
    void roundTripsAnyText(String text) {
        assertEquals(text, tokenizer.decode(tokenizer.encode(text)));
    }

    @Test
    void everyDigitIsOneToken() {
        int[] ids = tokenizer.encode("12345");
        assertEquals(5, ids.length);
        for (int i = 0; i < 5; i++) {
            assertEquals(String.valueOf(i + 1), tokenizer.decode(new int[] {ids[i]}));
        }
        List<Integer> inSentence = IntStream.of(tokenizer.encode("The pass key is 12345.")).boxed().toList();
        assertTrue(Collections.indexOfSubList(inSentence, IntStream.of(ids).boxed().toList()) > 0, inSentence::toString);
    }

    @Test
    void djlSplitsWordsExactlyAsTheTrainerDid() {
        String text = TinyTokenizers.TEXT + " I'll   go,\tdon't 1776-2021 😀 日本\r\n";
        List<Integer> wordByWord = new ArrayList<>();
        PreTokenizer.forEachWord(text, w -> IntStream.of(tokenizer.encode(w)).forEach(wordByWord::add));
        assertEquals(wordByWord, IntStream.of(tokenizer.encode(text)).boxed().toList());
    }

    @Test
    void specialTokensHoldTheFirstIdsAndDecodeToNothing() {
        assertEquals(0, tokenizer.tokenId(BpeTrainer.BOS).orElseThrow());
        assertEquals(1, tokenizer.tokenId(BpeTrainer.EOS).orElseThrow());
        assertEquals(400, tokenizer.vocabSize());
        int[] ids = tokenizer.encode("the sea");
        int[] framed = IntStream.concat(IntStream.concat(IntStream.of(0), IntStream.of(ids)), IntStream.of(1)).toArray();
        assertEquals("the sea", tokenizer.decode(framed));
    }

    @Test
    void learnedMergesShortenCommonWords() {
        assertTrue(tokenizer.encode(" the").length == 1, "' the' should be one token");
    }

    @Test
    void modelFolderGetsTokenizerAndConfig(@TempDir Path modelDir) throws IOException {
        BpeTrainer trainer = new BpeTrainer(300);
        trainer.addText(TinyTokenizers.TEXT);
        TokenizerJsonWriter.writeToModelFolder(trainer.train(), modelDir, 1024);
        JsonNode config = JsonMapper.shared().readTree(Files.readString(modelDir.resolve("tokenizer_config.json")));
        assertEquals("<|eos|>", config.path("eos_token").asString());
        assertEquals(1024, config.path("model_max_length").asInt());
        try (TextTokenizer loaded = TextTokenizer.load(modelDir)) {
            assertEquals(300, loaded.vocabSize());
        }
    }
}
