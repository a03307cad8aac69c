package dev.kvlab.model;


/**
 * The shape of a causal LM, read from a Hugging Face {@code config.json}. Sealed so that every
 * switch over architectures is checked by the compiler when one is added (the records live in
 * this package because a sealed hierarchy outside a named module cannot span packages).
 */
public sealed interface ModelConfig permits LlamaConfig, Gpt2Config {
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
