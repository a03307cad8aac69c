package dev.kvlab.generation;

import dev.kvlab.cache.CacheMap;
import dev.kvlab.cache.KvCache;
import dev.kvlab.model.DeviceDraws;
import dev.kvlab.tokenizer.StreamingDecoder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One generation in progress: its prompt, its cache, its sampler and stop strings, and the output so
 * far. A {@link Batch} advances it one forward pass at a time: prompt chunks first, then one token per
 * step until eos, a stop string or the token limit. Only the thread driving the batch touches it,
 * except {@link #cancel}, which any thread may call.
 */
final class Sequence {
    private final Generator generator;
    private final GenerationRequest request;
    private final int[] prompt;
    private final TokenListener listener;
    private final long joinOrder;
    private final CompletableFuture<GenerationResult> result = new CompletableFuture<>();
    private final Sampler sampler;
    private final StopSequences stops;
    private final StringBuilder text = new StringBuilder();
    private final List<TokenLogprob> promptLogprobs = new ArrayList<>();
    private final List<TokenLogprob> completionLogprobs = new ArrayList<>();
    private volatile String cancelled;
    private StreamingDecoder detokenizer;
    private KvCache cache;
    private boolean released;
    private volatile int prefilled; // read by other threads through Handle.prefilling
    private int nextToken = -1;
    private int completionTokens;
    private FinishReason finishReason = FinishReason.LENGTH;
    private long startNanos;
    private long prefillEndNanos;
    private long firstTokenNanos;

    Sequence(Generator generator, GenerationRequest request, int[] prompt, TokenListener listener, long joinOrder) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt encodes to no tokens and the model has no bos token");
        }
        this.generator = generator;
        this.request = request;
        this.prompt = prompt;
        this.listener = listener;
        this.joinOrder = joinOrder;
        this.sampler = Samplers.of(request.sampling());
        this.stops = new StopSequences(request.stop());
    }

    /** Takes the sequence into a batch: its cache is made now, in its own native-memory manager. */
    void start() {
        startNanos = System.nanoTime();
        detokenizer = generator.tokenizer().newStreamingDecoder();
        cache = generator.model().newCache(request.policy(), generator.prefillChunk());
        cache.limitSlots((long) prompt.length + request.maxNewTokens());
    }

    CompletableFuture<GenerationResult> result() {
        return result;
    }

    KvCache cache() {
        return cache;
    }

    /** Arrival order: the newest sequence is the one a failed step gives up first. */
    long joinOrder() {
        return joinOrder;
    }

    boolean prefilling() {
        return prefilled < prompt.length;
    }

    boolean done() {
        return result.isDone();
    }

    /** Asks the batch to drop the sequence at its next step boundary; a no-op once it has ended. */
    void cancel(String why) {
        if (cancelled == null) {
            cancelled = why;
        }
    }

    String cancelReason() {
        return cancelled;
    }

    /**
     * The tokens this sequence feeds the next step: a prompt chunk of at most {@code room}, or its last
     * token. A prompt whose log-probabilities are reported goes in one token per step when the policy
     * compacts, so each prediction sees only what the policy kept (as {@link PerplexityEvaluator}).
     */
    int[] nextInput(int room) {
        if (prefilling()) {
            int chunk = request.logprobs().prompt() && request.policy().compacts() ? 1 : generator.prefillChunk();
            int to = Math.min(prompt.length, prefilled + Math.min(room, chunk));
            return Arrays.copyOfRange(prompt, prefilled, to);
        }
        return new int[] {nextToken};
    }

    /** Whether the next step must return logits for every fed token, not only the last. */
    boolean needsAllLogits() {
        return prefilling() && request.logprobs().prompt();
    }

    /**
     * The draw the sampler plans for the token {@link #advance} will sample after a step that fed
     * {@code fed} tokens, or null when that step samples nothing (the prompt is not in yet, or no new
     * token is asked for) or the sampler reads the logits otherwise.
     */
    DeviceDraws.Plan planDraw(int fed) {
        boolean samples = prefilling() ? prefilled + fed >= prompt.length && request.maxNewTokens() > 0 : !done();
        return samples ? sampler.plan() : null;
    }

    /**
     * After a step that fed {@code fed} tokens was committed: reports the cache, and once the prompt is
     * in, samples the next token from the last row of {@code logits} and emits it or ends the sequence.
     */
    void advance(int fed, StepLogits logits) {
        boolean decoding = !prefilling();
        listener.onCacheUpdated(cache);
        if (!decoding) {
            if (request.logprobs().prompt()) {
                scorePrompt(fed, logits);
            }
            prefilled += fed;
            if (prefilling()) {
                return;
            }
            prefillEndNanos = System.nanoTime();
            if (request.maxNewTokens() == 0) {
                complete();
                return;
            }
        }
        float[] next = request.logprobs().completion() ? logits.last() : null;
        int token = sampler.sample(logits);
        if (firstTokenNanos == 0) {
            firstTokenNanos = System.nanoTime();
        }
        if (!request.ignoreEos() && (generator.isEos(token) || request.stopTokens().contains(token))) {
            finishReason = FinishReason.EOS;
            complete();
            return;
        }
        completionTokens++;
        TokenLogprob logprob = null;
        if (request.logprobs().completion()) {
            logprob = TokenLogprob.of(next, token, request.logprobs().top());
            completionLogprobs.add(logprob);
        }
        StopSequences.Result piece = stops.append(detokenizer.push(token));
        emit(token, piece.text(), logprob);
        if (piece.stopped()) {
            finishReason = FinishReason.STOP;
            finish();
        } else if (completionTokens == request.maxNewTokens()) {
            complete(); // the last token needs no forward pass
        } else {
            nextToken = token;
        }
    }

    /**
     * Log-probabilities of the prompt tokens this step predicted: row r of a chunk starting at
     * {@code prefilled} predicts prompt token {@code prefilled + r + 1}.
     */
    private void scorePrompt(int fed, StepLogits logits) {
        if (prefilled == 0) {
            promptLogprobs.add(TokenLogprob.unpredicted(prompt[0]));
        }
        int top = request.logprobs().top();
        for (int r = 0; r < fed && prefilled + r + 1 < prompt.length; r++) {
            promptLogprobs.add(TokenLogprob.of(logits.row(r), prompt[prefilled + r + 1], top));
        }
    }

    /** The model has no positions left for the next token: the output ends as at the token limit. */
    void outOfPositions() {
        complete();
    }

    /** Ends normally: releases the text held back for stop strings and incomplete characters. */
    private void complete() {
        StopSequences.Result tail = stops.append(detokenizer.finish());
        String rest = tail.text() + (tail.stopped() ? "" : stops.flush());
        if (tail.stopped()) {
            finishReason = FinishReason.STOP;
        }
        if (!rest.isEmpty()) {
            emit(-1, rest, null);
        }
        finish();
    }

    private void emit(int token, String piece, TokenLogprob logprob) {
        text.append(piece);
        listener.onToken(token, piece, logprob);
    }

    private void finish() {
        long end = System.nanoTime();
        long prefillEnd = prefillEndNanos == 0 ? end : prefillEndNanos;
        long ttft = firstTokenNanos > 0 ? firstTokenNanos - startNanos : end - startNanos;
        GenerationTimings timings = new GenerationTimings(prefillEnd - startNanos, end - prefillEnd, ttft,
                Math.max(0, completionTokens - 1));
        GenerationResult r = new GenerationResult(text.toString(), finishReason, prompt.length, completionTokens,
                timings, cache.stats(), promptLogprobs, completionLogprobs,
                request.cacheMap() ? CacheMap.of(cache) : null);
        release();
        result.complete(r);
    }

    /** Ends with {@code failure}; the cache is freed first. */
    void fail(Throwable failure) {
        release();
        result.completeExceptionally(failure);
    }

    private void release() {
        if (cache != null && !released) {
            released = true;
            cache.close();
        }
    }
}
