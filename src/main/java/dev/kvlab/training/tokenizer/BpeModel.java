package dev.kvlab.training.tokenizer;

import java.util.List;

/**
 * A trained byte-level BPE vocabulary: what {@link TokenizerJsonWriter} turns into a
 * {@code tokenizer.json}.
 *
 * @param specialTokens the special tokens, holding ids {@code 0 .. specialTokens.size()-1}
 * @param vocab every token in id order, spelled in {@link ByteLevelAlphabet} characters (special
 *     tokens first, then the 256 single bytes in byte order, then one token per merge)
 * @param merges the learned merges in rank order (earlier merges apply first); two merges may
 *     spell the same token, as in Hugging Face's trainer, so there can be more merges than
 *     learned tokens
 */
public record BpeModel(List<String> specialTokens, List<String> vocab, List<Merge> merges) {

    /** One merge rule: the adjacent tokens {@code left right} become {@code left + right}. */
    public record Merge(String left, String right) {}

    public BpeModel {
        specialTokens = List.copyOf(specialTokens);
        vocab = List.copyOf(vocab);
        merges = List.copyOf(merges);
        if (vocab.size() < specialTokens.size() + 256 || vocab.size() > specialTokens.size() + 256 + merges.size()) {
            throw new IllegalArgumentException("vocab of " + vocab.size() + " does not fit "
                    + specialTokens.size() + " specials, 256 bytes and " + merges.size() + " merges");
        }
    }

    /** The id of special token {@code token}. */
    public int specialId(String token) {
        int id = specialTokens.indexOf(token);
        if (id < 0) {
            throw new IllegalArgumentException("not a special token: " + token);
        }
        return id;
    }
}
