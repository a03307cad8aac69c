package dev.kvlab.serving.generate;

import dev.kvlab.cache.CacheStats;
import dev.kvlab.cache.KvCache;
import dev.kvlab.generation.GenerationCancelledException;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.StepScheduler;
import dev.kvlab.generation.TokenListener;
import dev.kvlab.generation.TokenLogprob;
import dev.kvlab.metrics.GenerationMetrics;
import dev.kvlab.serving.admission.AdmissionControl;
import dev.kvlab.serving.generate.GenerationFailures.Cancel;
import dev.kvlab.serving.web.ApiException;
import java.io.IOException;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One admitted generation, from its place in the queue to its last byte: it waits for its turn,
 * hands the request to the {@link StepScheduler}, and relays what the scheduler thread produces to
 * the client's sink on this job's own thread, so a slow or vanished client never holds up the batch.
 * It can be cancelled at any time (client gone, timeout, shutdown): the scheduler drops the sequence
 * at its next step and frees its cache. A device out-of-memory fails only this request (507).
 */
public final class GenerationJob implements Runnable {

    private static final Logger log = LoggerFactory.getLogger(GenerationJob.class);

    /** What the scheduler thread hands to the job's thread. */
    private sealed interface Event permits Token, End {}

    private record Token(int id, String text, TokenLogprob logprob) implements Event {}

    private record End(GenerationResult result, Throwable failure) implements Event {}

    private final GenerationService service;
    private final GenerationRequest request;
    private final int[] prompt;
    private final long arrival;
    private final AdmissionControl.Permit permit;
    private final GenerationSink sink;
    private final String id = UUID.randomUUID().toString();
    private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private volatile ScheduledFuture<?> deadline;
    private volatile StepScheduler.Handle handle;
    private Thread worker; // guarded by this
    private Cancel cancelled; // guarded by this
    private boolean finished; // guarded by this

    GenerationJob(GenerationService service, GenerationRequest request, int[] prompt, long arrival,
            AdmissionControl.Permit permit, GenerationSink sink) {
        this.service = service;
        this.request = request;
        this.prompt = prompt;
        this.arrival = arrival;
        this.permit = permit;
        this.sink = sink;
    }

    /** A random id, the suffix of the response id ({@code gen-…}, {@code cmpl-…}). */
    public String id() {
        return id;
    }

    void deadline(ScheduledFuture<?> deadline) {
        this.deadline = deadline;
    }

    /** Stops the generation (or its wait for a slot) soon; a no-op once it has finished. */
    public void cancel(Cancel reason) {
        synchronized (this) {
            if (finished || cancelled != null) {
                return;
            }
            cancelled = reason;
            if (worker != null) {
                worker.interrupt();
            }
        }
        StepScheduler.Handle h = handle;
        if (h != null) {
            h.cancel(service.failures().describe(reason));
        }
    }

    private synchronized Cancel cancelled() {
        return cancelled;
    }

    @Override
    public void run() {
        GenerateResponse response = null;
        Throwable failure = null;
        try {
            synchronized (this) {
                if (cancelled != null) {
                    throw new GenerationCancelledException("cancelled before it started");
                }
                worker = Thread.currentThread();
            }
            response = execute();
        } catch (Throwable t) {
            failure = t;
        } finally {
            permit.close();
            synchronized (this) {
                worker = null;
                finished = true;
                Thread.interrupted(); // a cancel that came too late must not disturb the sink or the pool
            }
            ScheduledFuture<?> d = deadline;
            if (d != null) {
                d.cancel(false);
            }
            service.finished(this);
        }
        deliver(response, failure);
    }

    private GenerateResponse execute() throws IOException {
        permit.awaitTurn();
        String policy = request.policy().name();
        try (GenerationMetrics.RequestRecorder recorder = service.metrics().start(policy, arrival)) {
            recorder.promptPrefilled(prompt.length);
            StepScheduler.Handle h = service.scheduler().submit(request, prompt, new Relay(recorder));
            handle = h;
            h.result().whenComplete((result, failure) -> events.add(new End(result, failure)));
            Cancel early = cancelled();
            if (early != null) {
                h.cancel(service.failures().describe(early));
            }
            End end = relay(h);
            if (end.failure() != null) {
                throw service.failureOf(end.failure(), policy, recorder.decoding(), prompt.length,
                        permit.reservedBytes());
            }
            return GenerateResponse.of("gen-" + id, end.result(), permit.waitedNanos(), service.memory().snapshot());
        }
    }

    /**
     * Writes tokens to the sink until the scheduler reports the end. A sink that fails means the client
     * has gone: the generation is cancelled, and the job still waits for the scheduler to free the cache.
     */
    private End relay(StepScheduler.Handle h) {
        boolean clientGone = false;
        while (true) {
            Event event;
            try {
                event = events.take();
            } catch (InterruptedException e) {
                Cancel reason = cancelled();
                h.cancel(service.failures().describe(reason == null ? Cancel.SHUTDOWN : reason));
                continue; // the end event follows within a step
            }
            if (event instanceof End end) {
                return end;
            }
            Token token = (Token) event;
            if (!clientGone) {
                try {
                    sink.token(token.id(), token.text(), token.logprob());
                } catch (IOException e) {
                    clientGone = true;
                    cancel(Cancel.CLIENT_GONE);
                }
            }
        }
    }

    private void deliver(GenerateResponse response, Throwable failure) {
        try {
            if (failure == null) {
                sink.done(response);
                return;
            }
            ApiException problem = service.failures().problem(failure, cancelled());
            if (problem != null) {
                sink.failed(problem);
            } else {
                log.error("Unexpected failure of generation {}", id, failure);
                sink.failed(ApiException.internal("internal error; the server log has the details", failure));
            }
        } catch (IOException e) {
            log.debug("Could not report the end of generation {} to its client: {}", id, e.toString());
        } catch (RuntimeException e) {
            log.warn("Could not report the end of generation {} to its client", id, e);
        }
    }

    /**
     * Called on the scheduler thread: keeps the live figures (metrics, admission) up to date and queues
     * tokens for the job's thread. Never blocks.
     */
    private final class Relay implements TokenListener {
        private final GenerationMetrics.RequestRecorder recorder;

        Relay(GenerationMetrics.RequestRecorder recorder) {
            this.recorder = recorder;
        }

        @Override
        public void onToken(int tokenId, String text) {
            onToken(tokenId, text, null);
        }

        @Override
        public void onToken(int tokenId, String text, TokenLogprob logprob) {
            if (tokenId >= 0) {
                recorder.tokenGenerated();
            }
            events.add(new Token(tokenId, text, logprob));
        }

        @Override
        public void onCacheUpdated(KvCache cache) {
            CacheStats s = cache.stats();
            recorder.cacheUpdated(s.bytes(), s.storedTokens(), s.fullCacheBytes(), s.evicted(), s.merged());
            permit.liveBytes(cache.allocatedBytes());
        }
    }
}
