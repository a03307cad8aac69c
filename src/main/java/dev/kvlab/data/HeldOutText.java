package dev.kvlab.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The built-in perplexity corpus: the held-out split of {@code models/kvlab-tiny}'s training corpus
 * (State of the Union addresses and Moby-Dick chapters the model never trained on), shipped on the
 * classpath. Experiments read it as prompt text and pass-key filler; the training command writes it
 * (the training corpus, which holds the split rule).
 */
public final class HeldOutText {

    /** Where the text lies on the classpath. */
    public static final String CLASSPATH = "/corpus/heldout.txt";

    private HeldOutText() {}

    /** The whole held-out text. */
    public static String builtIn() {
        try (InputStream in = HeldOutText.class.getResourceAsStream(CLASSPATH)) {
            if (in == null) {
                throw new IllegalStateException("the built-in corpus " + CLASSPATH + " is missing");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
