package dev.kvlab.cache;

/**
 * How a model tells keys their positions, as far as a cache policy needs to know: a policy may
 * re-index rotations ({@code rope=cache-index}) only when keys carry their position as a rotation.
 * The model's architecture implements it, so the cache package depends on no model class.
 */
public interface PositionEncoding {

    /** Rotary position embeddings (Llama and its family). */
    PositionEncoding ROTARY = () -> true;

    /** Whether keys carry their position as a rotation (RoPE) rather than as a learned embedding. */
    boolean rotaryPositions();
}
