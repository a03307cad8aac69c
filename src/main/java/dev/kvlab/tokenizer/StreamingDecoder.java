package dev.kvlab.tokenizer;

import java.util.Arrays;

/**
 * Turns a stream of generated token ids into text pieces, one {@link #push} per token, for
 * server-sent events.
 *
 * <p>A byte-level token can end in the middle of a UTF-8 character, so text is only emitted once
 * it no longer ends in U+FFFD; the held-back bytes come out with a later token. Each step decodes
 * a short window (the tokens since the previous emission plus the new ones) rather than the whole
 * output, and emits the difference between the window with and without the new tokens, the way
 * TGI and vLLM detokenize incrementally. Concatenating every {@code push} and the final
 * {@link #finish} gives exactly {@code tokenizer.decode(allIds)}.
 *
 * <p>One instance per generation; not thread-safe.
 */
public final class StreamingDecoder {

    private final TextTokenizer tokenizer;
    private int[] ids = new int[64];
    private int size;
    /** Start of the window already emitted once, kept as context for the next decode. */
    private int prefixOffset;
    /** End of what has been emitted. */
    private int readOffset;

    StreamingDecoder(TextTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Adds one token and returns the text it completes, possibly empty. */
    public String push(int tokenId) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = tokenId;
        String emitted = tokenizer.decode(ids, prefixOffset, readOffset);
        String current = tokenizer.decode(ids, prefixOffset, size);
        if (current.length() > emitted.length() && !current.endsWith("\uFFFD") && current.startsWith(emitted)) {
            prefixOffset = readOffset;
            readOffset = size;
            return current.substring(emitted.length());
        }
        return "";
    }

    /** Returns whatever is still held back (replacement characters included if the bytes never completed). */
    public String finish() {
        String emitted = tokenizer.decode(ids, prefixOffset, readOffset);
        String current = tokenizer.decode(ids, prefixOffset, size);
        prefixOffset = readOffset;
        readOffset = size;
        return current.length() > emitted.length() ? current.substring(emitted.length()) : "";
    }

    /** Number of tokens pushed so far. */
    public int tokenCount() {
        return size;
    }
}
