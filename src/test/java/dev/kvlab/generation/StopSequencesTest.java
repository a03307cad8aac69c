package dev.kvlab.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopSequencesTest {

    /** Feeds the deltas and returns everything emitted, including the final flush. */
    private static String run(StopSequences stops, String... deltas) {
        StringBuilder out = new StringBuilder();
        for (String delta : deltas) {
            out.append(stops.append(delta).text());
        }
        return out.append(stops.flush()).toString();
    }

    @Test
    void noStopStringsPassThrough() {
        StopSequences none = new StopSequences(List.of());
        assertEquals(new StopSequences.Result("Hello", false), none.append("Hello"));
        assertEquals(new StopSequences.Result(" world\n\n", false), none.append(" world\n\n"));
        assertEquals("", none.flush());
    }

    @Test
    void stopInsideOneDeltaCutsBeforeIt() {
        StopSequences stops = new StopSequences(List.of("END"));
        assertEquals(new StopSequences.Result("abc ", true), stops.append("abc END def"));
        assertTrue(stops.stopped());
        assertEquals(new StopSequences.Result("", true), stops.append("more"));
        assertEquals("", stops.flush());
    }

    @Test
    void stopSpanningSeveralDeltasIsNeverLeaked() {
        StopSequences stops = new StopSequences(List.of("\n\nUser:"));
        assertEquals(new StopSequences.Result("Sure", false), stops.append("Sure"));
        assertEquals(new StopSequences.Result(".", false), stops.append(".\n"));
        assertEquals(new StopSequences.Result("", false), stops.append("\nUs"));
        assertEquals(new StopSequences.Result("", true), stops.append("er: hi"));
        assertEquals("", stops.flush());
    }

    @Test
    void falseStartIsReleasedWhenTheNextDeltaDiverges() {
        StopSequences stops = new StopSequences(List.of("###"));
        assertEquals(new StopSequences.Result("a", false), stops.append("a##"));
        assertEquals(new StopSequences.Result("##b", false), stops.append("b"));
        assertFalse(stops.stopped());
    }

    @Test
    void heldPrefixIsReleasedOnFlush() {
        StopSequences stops = new StopSequences(List.of("</s>"));
        assertEquals(new StopSequences.Result("done", false), stops.append("done</"));
        assertEquals("</", stops.flush());
        assertEquals("", stops.flush());
    }

    @Test
    void earliestOfSeveralStopsWins() {
        StopSequences stops = new StopSequences(List.of("world", "lo"));
        assertEquals(new StopSequences.Result("Hel", true), stops.append("Hello world"));
    }

    @Test
    void overlappingPrefixesStillFindTheStop() {
        // "aab" inside "aaab": the hold-back must keep the last "aa", not restart at the first "a"
        assertEquals("xa", run(new StopSequences(List.of("aab")), "x", "a", "a", "a", "b", "tail"));
    }

    @Test
    void everySplitOfTheTextGivesTheSameOutput() {
        String text = "one\n\ntwo STOP three";
        for (int cut1 = 0; cut1 <= text.length(); cut1++) {
            for (int cut2 = cut1; cut2 <= text.length(); cut2++) {
                StopSequences stops = new StopSequences(List.of("STOP", "\n\n\n"));
                String out = run(stops, text.substring(0, cut1), text.substring(cut1, cut2), text.substring(cut2));
                assertEquals("one\n\ntwo ", out, "cuts " + cut1 + "," + cut2);
                assertTrue(stops.stopped());
            }
        }
    }

    @Test
    void emptyStopStringIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> new StopSequences(List.of("a", "")));
    }
}
