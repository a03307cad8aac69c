package dev.kvlab.model;

/**
 * The shape of a causal LM, read from a Hugging Face {@code config.json}. Each architecture's
 * package has its own record ({@code llama.LlamaConfig}, {@code gpt2.Gpt2Config}); what differs
 * between architectures is asked of {@link #architecture()}, so callers need not know the record.
 * Not sealed: outside a named module Java 17 only lets a sealed interface permit classes of its own
 * package.
 */
public interface ModelConfig {
    Architecture architecture();

    int vocabSize();

    int hiddenSize();

    int numLayers();

    int numHeads();

    int numKvHeads();

    /** Per-head dimension of queries, keys and values. */
    default int headDim() {
        return hiddenSize() / numHeads();
    }

    /** Trained context length ({@code max_position_embeddings} / {@code n_positions}). */
    int maxPositions();

    boolean tieWordEmbeddings();
}
