package dev.kvlab.generation;

/**
 * Receives each generated token as it is produced, so a server can stream without the generation
 * loop knowing about HTTP. {@code text} is what the token adds to the output once stop strings and
 * incomplete UTF-8 are accounted for (possibly empty).
 */
@FunctionalInterface
public interface TokenListener {
    TokenListener NONE = (tokenId, text) -> {};

    void onToken(int tokenId, String text);
}
