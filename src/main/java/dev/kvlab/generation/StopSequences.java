package dev.kvlab.generation;

import java.util.List;

/**
 * Cuts streamed text at the first stop string, as OpenAI's {@code stop} does: the stop string and
 * everything after it are left out. Text that could still turn out to begin a stop string is held
 * back until the next delta decides it, so a stop string split across tokens is never leaked.
 * One instance per generation; not thread-safe.
 */
public final class StopSequences {

    /** What {@link #append} lets out: {@code text} is safe to emit; {@code stopped} means generation should end. */
    public record Result(String text, boolean stopped) {
    }

    private final List<String> stops;
    private String held = "";
    private boolean stopped;

    /** @param stops the stop strings, none empty; an empty list passes all text through */
    public StopSequences(List<String> stops) {
        this.stops = List.copyOf(stops);
        for (String stop : this.stops) {
            if (stop.isEmpty()) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
        }
    }

    /** Consumes the next piece of generated text; after a stop, further text is ignored. */
    public Result append(String delta) {
        if (stopped) {
            return new Result("", true);
        }
        String text = held + delta;
        int stopAt = firstStop(text);
        if (stopAt >= 0) {
            stopped = true;
            held = "";
            return new Result(text.substring(0, stopAt), true);
        }
        int holdFrom = text.length() - longestSuffixStartingAStop(text);
        held = text.substring(holdFrom);
        return new Result(text.substring(0, holdFrom), false);
    }

    /** The held-back text once generation has ended without a stop; empty after a stop. */
    public String flush() {
        String rest = held;
        held = "";
        return rest;
    }

    /** Whether a stop string has been seen. */
    public boolean stopped() {
        return stopped;
    }

    private int firstStop(String text) {
        int first = -1;
        for (String stop : stops) {
            int at = text.indexOf(stop);
            if (at >= 0 && (first < 0 || at < first)) {
                first = at;
            }
        }
        return first;
    }

    /** Length of the longest suffix of {@code text} that is a proper prefix of some stop string. */
    private int longestSuffixStartingAStop(String text) {
        int longest = 0;
        for (String stop : stops) {
            for (int n = Math.min(stop.length() - 1, text.length()); n > longest; n--) {
                if (text.regionMatches(text.length() - n, stop, 0, n)) {
                    longest = n;
                    break;
                }
            }
        }
        return longest;
    }
}
