package dev.kvlab.training.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * GPT-2's byte-to-unicode table, as used by Hugging Face's ByteLevel pre-tokenizer and decoder:
 * every byte maps to one printable character (printable Latin-1 bytes to themselves, the rest to
 * U+0100 and up, so a space becomes {@code Ġ}). Token strings in a byte-level vocabulary are
 * spelled in these characters, which is why any UTF-8 text can be encoded.
 */
public final class ByteLevelAlphabet {

    private static final char[] BYTE_TO_CHAR = new char[256];

    static {
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            BYTE_TO_CHAR[b] = printable ? (char) b : (char) next++;
        }
    }

    private ByteLevelAlphabet() {}

    /** The character that stands for byte {@code b} (0–255). */
    public static char charOf(int b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** The byte-level spelling of {@code text}'s UTF-8 bytes. */
    public static String encode(String text) {
        return encode(text.getBytes(StandardCharsets.UTF_8));
    }

    /** The byte-level spelling of {@code bytes}. */
    public static String encode(byte[] bytes) {
        char[] out = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        }
        return new String(out);
    }
}
