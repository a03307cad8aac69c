package dev.kvlab.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class FinishReasonTest {

    @Test
    void apiNamesAreTheOpenAiLowerCaseNames() {
        assertEquals("length", FinishReason.LENGTH.apiName());
        assertEquals("stop", FinishReason.STOP.apiName());
        assertEquals("eos", FinishReason.EOS.apiName());
    }
}
