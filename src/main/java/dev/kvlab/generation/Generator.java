package dev.kvlab.generation;

import ai.djl.ndarray.NDScope;
import dev.kvlab.cache.KvCache;
import dev.kvlab.model.ContextOverflowException;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.tokenizer.StreamingDecoder;
import dev.kvlab.tokenizer.TextTokenizer;
import java.util.Arrays;

/**
 * The generation loop: encode, prefill the prompt in chunks, then sample and decode one token per
 * step until eos, a stop string or the token limit. Each step runs in its own {@link NDScope}, so
 * a request's native memory is its cache plus one step's temporaries, and the cache is freed when
 * the loop ends however it ends.
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

    public GenerationResult generate(GenerationRequest request, TokenListener listener) {
        long start = System.nanoTime();
        int[] prompt = promptTokens(request.prompt());
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt encodes to no tokens and the model has no bos token");
        }
        Sampler sampler = Samplers.of(request.sampling());
        try (KvCache cache = model.newCache(request.policy(), prefillChunk)) {
            float[] logits = prefill(prompt, cache, listener);
            long prefillEnd = System.nanoTime();
            Decoding out = decode(request, logits, cache, sampler, listener);
            long end = System.nanoTime();
            long ttft = out.firstTokenAt > 0 ? out.firstTokenAt - start : end - start;
            GenerationTimings timings = new GenerationTimings(prefillEnd - start, end - prefillEnd, ttft,
                    Math.max(0, out.completionTokens - 1));
            return new GenerationResult(out.text.toString(), out.finishReason, prompt.length, out.completionTokens,
                    timings, cache.stats());
        }
    }

    private float[] prefill(int[] prompt, KvCache cache, TokenListener listener) {
        float[] logits = null;
        for (int from = 0; from < prompt.length; from += prefillChunk) {
            checkCancelled();
            int to = Math.min(prompt.length, from + prefillChunk);
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                float[] chunkLogits = model.forward(Arrays.copyOfRange(prompt, from, to), cache, false).toFloatArray();
                if (to == prompt.length) {
                    logits = chunkLogits;
                }
            }
            listener.onCacheUpdated(cache);
        }
        return logits;
    }

    /** Mutable state of the decode loop. */
    private static final class Decoding {
        final StringBuilder text = new StringBuilder();
        FinishReason finishReason = FinishReason.LENGTH;
        int completionTokens;
        long firstTokenAt;
    }

    private Decoding decode(GenerationRequest request, float[] logits, KvCache cache, Sampler sampler,
            TokenListener listener) {
        Decoding out = new Decoding();
        StreamingDecoder detokenizer = tokenizer.newStreamingDecoder();
        StopSequences stops = new StopSequences(request.stop());
        for (int step = 0; step < request.maxNewTokens(); step++) {
            int token = sampler.sample(logits);
            if (step == 0) {
                out.firstTokenAt = System.nanoTime();
            }
            if (isEos(token)) {
                out.finishReason = FinishReason.EOS;
                break;
            }
            out.completionTokens++;
            StopSequences.Result piece = stops.append(detokenizer.push(token));
            emit(out, listener, token, piece.text());
            if (piece.stopped()) {
                out.finishReason = FinishReason.STOP;
                return out;
            }
            if (step == request.maxNewTokens() - 1) {
                break; // the last token needs no forward pass
            }
            checkCancelled();
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                logits = model.forward(new int[] {token}, cache, false).toFloatArray();
            } catch (ContextOverflowException e) {
                break; // the model's positions are used up: the output ends as at max_new_tokens
            }
            listener.onCacheUpdated(cache);
        }
        StopSequences.Result tail = stops.append(detokenizer.finish());
        String rest = tail.text() + (tail.stopped() ? "" : stops.flush());
        if (tail.stopped()) {
            out.finishReason = FinishReason.STOP;
        }
        if (!rest.isEmpty()) {
            emit(out, listener, -1, rest);
        }
        return out;
    }

    private static void emit(Decoding out, TokenListener listener, int token, String text) {
        out.text.append(text);
        listener.onToken(token, text);
    }

    private boolean isEos(int token) {
        for (int eos : eosTokenIds) {
            if (eos == token) {
                return true;
            }
        }
        return false;
    }

    private static void checkCancelled() {
        if (Thread.currentThread().isInterrupted()) {
            throw new GenerationCancelledException("generation cancelled");
        }
    }
}
