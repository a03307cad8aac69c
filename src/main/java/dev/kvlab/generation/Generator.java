package dev.kvlab.generation;

import dev.kvlab.model.TransformerModel;
import dev.kvlab.tokenizer.TextTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;

/**
 * What every generation of one model shares: the tokenizer, the end-of-sequence tokens, the BOS rule
 * and the prefill chunk. It encodes prompts and runs generations on the calling thread, alone or as a
 * batch; a {@link StepScheduler} runs them for a server. Each step runs in its own {@code NDScope}, so
 * a request's native memory is its cache plus one step's temporaries, and the cache is freed when the
 * generation ends however it ends.
 */
public final class Generator {
    private final TransformerModel model;
    private final TextTokenizer tokenizer;
    private final int[] eosTokenIds;
    private final Integer bosTokenId;
    private final int prefillChunk;

    /**
     * @param bosTokenId prepended to every prompt when non-null (Llama checkpoints expect it)
     * @param prefillChunk most prompt tokens per forward; bounds what a compressing cache holds
     */
    public Generator(TransformerModel model, TextTokenizer tokenizer, int[] eosTokenIds, Integer bosTokenId,
            int prefillChunk) {
        if (prefillChunk < 1) {
            throw new IllegalArgumentException("prefillChunk must be ≥ 1");
        }
        this.model = model;
        this.tokenizer = tokenizer;
        this.eosTokenIds = eosTokenIds.clone();
        this.bosTokenId = bosTokenId;
        this.prefillChunk = prefillChunk;
    }

    public TransformerModel model() {
        return model;
    }

    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    public int prefillChunk() {
        return prefillChunk;
    }

    /** The prompt as the model will see it, BOS included. */
    public int[] promptTokens(String prompt) {
        int[] ids = tokenizer.encode(prompt);
        if (bosTokenId == null) {
            return ids;
        }
        int[] withBos = new int[ids.length + 1];
        withBos[0] = bosTokenId;
        System.arraycopy(ids, 0, withBos, 1, ids.length);
        return withBos;
    }

    /**
     * Generates on the calling thread, alone. The same steps as a {@link StepScheduler} batch, so the
     * same seed gives the same text either way.
     *
     * @throws GenerationCancelledException when the thread is interrupted; the cache is freed
     */
    public GenerationResult generate(GenerationRequest request, TokenListener listener) {
        return generate(request, promptTokens(request.prompt()), listener);
    }

    /** {@link #generate(GenerationRequest, TokenListener)} for a prompt already encoded. */
    public GenerationResult generate(GenerationRequest request, int[] prompt, TokenListener listener) {
        return generateAll(List.of(new Sequence(this, request, prompt, listener, 0))).get(0);
    }

    /**
     * Generates several requests as one batch on the calling thread, every step one forward pass over
     * all of them (a benchmark of concurrent sequences without a scheduler thread); each ends as it
     * would alone. Listeners are called on this thread.
     *
     * @param prompts each request's encoded prompt, in order (BOS included)
     * @param maxBatchTokens most tokens per step (decode rows plus one prompt chunk)
     * @throws RuntimeException the first request's failure, if any failed (the others' caches are freed too)
     */
    public List<GenerationResult> generateAll(List<GenerationRequest> requests, List<int[]> prompts,
            int maxBatchTokens) {
        if (requests.size() != prompts.size()) {
            throw new IllegalArgumentException("one prompt per request");
        }
        List<Sequence> sequences = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            sequences.add(new Sequence(this, requests.get(i), prompts.get(i), TokenListener.NONE, i));
        }
        Batch batch = new Batch(model, maxBatchTokens);
        return run(batch, sequences);
    }

    private List<GenerationResult> generateAll(List<Sequence> sequences) {
        return run(new Batch(model, prefillChunk + sequences.size()), sequences);
    }

    private static List<GenerationResult> run(Batch batch, List<Sequence> sequences) {
        sequences.forEach(batch::join);
        try {
            while (!batch.isEmpty()) {
                if (Thread.currentThread().isInterrupted()) {
                    batch.cancelAll("generation cancelled");
                }
                batch.step();
            }
        } catch (RuntimeException | Error e) {
            batch.failAll(e);
            throw e;
        }
        List<GenerationResult> results = new ArrayList<>();
        for (Sequence s : sequences) {
            try {
                results.add(s.result().join());
            } catch (CompletionException e) {
                throw rethrow(e.getCause());
            }
        }
        return results;
    }

    private static RuntimeException rethrow(Throwable failure) {
        if (failure instanceof RuntimeException r) {
            throw r;
        }
        if (failure instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(failure);
    }

    /** A sequence for a {@link StepScheduler}: {@code order} ranks it among the others for failures. */
    Sequence newSequence(GenerationRequest request, int[] prompt, TokenListener listener, long order) {
        return new Sequence(this, request, prompt, listener, order);
    }

    boolean isEos(int token) {
        for (int eos : eosTokenIds) {
            if (eos == token) {
                return true;
            }
        }
        return false;
    }
}
