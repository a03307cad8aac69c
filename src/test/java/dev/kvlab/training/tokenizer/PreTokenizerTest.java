package dev.kvlab.training.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PreTokenizerTest {

    @Test
    void everyDigitIsAWordOfItsOwn() {
        assertEquals(List.of("In", " ", "1", "7", "7", "6", ",", " $", "1", "2", ".", "5"),
                PreTokenizer.split("In 1776, $12.5"));
    }

    @Test
    void nonAsciiDigitsAreIsolatedToo() {
        assertEquals(List.of("x", "٣", "٤", "½"), PreTokenizer.split("x٣٤½"));
    }

    @Test
    void wordsKeepTheirLeadingSpaceAndContractionsSplit() {
        assertEquals(List.of("I", "'ll", " go", ",", " don", "'t", " you", "?"),
                PreTokenizer.split("I'll go, don't you?"));
    }

    @Test
    void whitespaceBeforeAWordLeavesItsLastCharacterApart() {
        // GPT-2's \s+(?!\S): a run of whitespace stops one short of the next word
        assertEquals(List.of("a", "  ", " b", "\n", "\n", "c", "\t\r\n"), PreTokenizer.split("a   b\n\nc\t\r\n"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " leading", "trailing  ", "naïve café 😀 日本語 e\u0301", "tabs\tand\r\nlines", "42"})
    void wordsConcatenateToTheInput(String text) {
        assertEquals(text, String.join("", PreTokenizer.split(text)));
    }
}
