package dev.kvlab.serving;

import ai.djl.engine.EngineException;
import ai.djl.pytorch.jni.JniUtils;
import dev.kvlab.cache.CacheStats;
import dev.kvlab.cache.KvCache;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationCancelledException;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.Generator;
import dev.kvlab.generation.TokenListener;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.metrics.GenerationMetrics;
import dev.kvlab.model.Architecture;
import dev.kvlab.model.ContextOverflowException;
import jakarta.annotation.PreDestroy;
import java.io.IOException;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Service;

/**
 * Runs validated generation requests on the shared model. Before a request queues it is checked: a
 * prompt too long is 413, one that cannot fit in memory even alone is 507 ({@link MemoryGuard}), a
 * full queue is 429 ({@link AdmissionControl}). Admitted requests generate on a worker pool, each
 * under {@code kvlab.serving.request-timeout}, and can be cancelled at any time (client gone,
 * timeout, shutdown): the worker is interrupted, the generator stops at the next step and frees the
 * cache. A device out-of-memory fails only its own request (507), is counted, and the device's
 * caching allocator is emptied so the next request starts clean.
 */
@Service
class GenerationService {

    private static final Logger log = LoggerFactory.getLogger(GenerationService.class);
    private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(30);

    /** Why a generation was cancelled. */
    enum Cancel { TIMEOUT, CLIENT_GONE, SHUTDOWN }

    private final Generator generator;
    private final AdmissionControl admission;
    private final MemoryGuard guard;
    private final GenerationMetrics metrics;
    private final DeviceMemoryProbe memory;
    private final int maxPromptTokens;
    private final Duration timeout;
    private final ThreadPoolExecutor workers;
    private final ScheduledThreadPoolExecutor timer;
    private final Set<Job> jobs = ConcurrentHashMap.newKeySet();
    private volatile boolean closing;

    @Autowired
    GenerationService(Generator generator, AdmissionControl admission, MemoryGuard guard, GenerationMetrics metrics,
            DeviceMemoryProbe memory, KvlabProperties properties) {
        this.generator = generator;
        this.admission = admission;
        this.guard = guard;
        this.metrics = metrics;
        this.memory = memory;
        this.maxPromptTokens = properties.serving().maxPromptTokens();
        this.timeout = properties.serving().requestTimeout();
        // one thread per admitted request (running or queued): admission bounds them, so none is refused
        int threads = properties.serving().maxConcurrent() + properties.serving().maxQueue() + 1;
        this.workers = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                daemonThreads("kvlab-generate-"));
        this.workers.allowCoreThreadTimeOut(true);
        this.timer = new ScheduledThreadPoolExecutor(1, daemonThreads("kvlab-request-timeout-"));
        this.timer.setRemoveOnCancelPolicy(true);
    }

    /** The loaded model's architecture, which decides which cache options apply. */
    Architecture architecture() {
        return generator.model().config().architecture();
    }

    /**
     * Checks and admits the request, then generates in the background, reporting each token, then the
     * response or the failure, to {@code sink}. Both JSON and event-stream replies are sinks.
     *
     * @throws ApiException 413 for a prompt over {@code kvlab.serving.max-prompt-tokens} or past the
     *     model's positions, 400 for a prompt that encodes to nothing, 429 when the queue is full, 507
     *     when it does not fit in memory
     */
    Job stream(GenerationRequest request, GenerationSink sink) {
        long arrival = System.nanoTime();
        if (closing) {
            throw ApiException.unavailable("the server is shutting down", null);
        }
        int promptTokens = generator.promptTokens(request.prompt()).length;
        if (promptTokens > maxPromptTokens) {
            throw ApiException.tooLarge("prompt", "is " + promptTokens + " tokens, more than the " + maxPromptTokens
                    + " allowed (kvlab.serving.max-prompt-tokens)", null);
        }
        if (promptTokens == 0) {
            throw ApiException.badRequest("prompt", "encodes to no tokens and the model has no bos token");
        }
        MemoryGuard.Prediction need = guard.predict(request.policy(), promptTokens, request.maxNewTokens());
        checkFits(request.policy().name(), need);
        AdmissionControl.Permit permit = admission.enter(need.requiredBytes());
        Job job = new Job(request, promptTokens, arrival, permit, sink);
        jobs.add(job);
        try {
            long left = timeout.toNanos() - (System.nanoTime() - arrival);
            job.deadline = timer.schedule(() -> job.cancel(Cancel.TIMEOUT), left, TimeUnit.NANOSECONDS);
            workers.execute(job);
        } catch (RejectedExecutionException e) {
            jobs.remove(job);
            permit.close();
            throw ApiException.unavailable("the server is shutting down", e);
        }
        return job;
    }

    /** 507 with the figures when the request could not fit even if it ran alone. */
    private void checkFits(String policy, MemoryGuard.Prediction need) {
        MemoryGuard.Availability free = guard.capacity(admission.liveBytes());
        if (need.requiredBytes() <= free.availableBytes()) {
            return;
        }
        metrics.recordOutOfMemory(policy, GenerationMetrics.Phase.PREFILL, GenerationMetrics.Source.BUDGET);
        String bound = free.limitedBy() == GenerationMetrics.Source.BUDGET
                ? "kvlab.memory.limit minus the weights" : "free on " + guard.deviceName();
        ApiException e = ApiException.insufficientMemory("the request needs about " + need.requiredBytes()
                + " bytes (KV cache " + need.kvBytes() + " for " + need.kvSlots() + " tokens + activations "
                + need.activationBytes() + ") but only " + free.availableBytes() + " are available (" + bound
                + "); use a bounded kv_cache policy, a shorter prompt or fewer new tokens", null)
                .with("required_bytes", need.requiredBytes())
                .with("available_bytes", free.availableBytes())
                .with("kv_bytes", need.kvBytes())
                .with("kv_bytes_per_token", guard.kvBytesPerToken())
                .with("activation_bytes", need.activationBytes())
                .with("weights_bytes", guard.weightsBytes())
                .with("limited_by", free.limitedBy().name().toLowerCase(Locale.ROOT));
        throw e;
    }

    /** Cancels what is still running; the web server has already let in-flight requests finish. */
    @PreDestroy
    void shutdown() {
        closing = true;
        jobs.forEach(job -> job.cancel(Cancel.SHUTDOWN));
        workers.shutdown();
        timer.shutdownNow();
        try {
            if (!workers.awaitTermination(SHUTDOWN_WAIT.toSeconds(), TimeUnit.SECONDS)) {
                log.warn("Generations still running {} after shutdown began", SHUTDOWN_WAIT);
                workers.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            workers.shutdownNow();
        }
    }

    private static boolean isOutOfMemory(EngineException e) {
        return e.getMessage() != null && e.getMessage().toLowerCase(Locale.ROOT).contains("out of memory");
    }

    /** Returns what the failed request held on a GPU to the device, so the next request can use it. */
    private void releaseDeviceMemory() {
        if (generator.model() != null && generator.model().device().isGpu()) {
            JniUtils.emptyCudaCache();
        }
    }

    private static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** One admitted generation: waits for its turn, generates, reports to its sink. */
    final class Job implements Runnable {
        private final GenerationRequest request;
        private final int promptTokens;
        private final long arrival;
        private final AdmissionControl.Permit permit;
        private final GenerationSink sink;
        private final String id = UUID.randomUUID().toString();
        private volatile ScheduledFuture<?> deadline;
        private Thread worker; // guarded by this
        private Cancel cancelled; // guarded by this
        private boolean finished; // guarded by this

        private Job(GenerationRequest request, int promptTokens, long arrival, AdmissionControl.Permit permit,
                GenerationSink sink) {
            this.request = request;
            this.promptTokens = promptTokens;
            this.arrival = arrival;
            this.permit = permit;
            this.sink = sink;
        }

        /** A random id, the suffix of the response id ({@code gen-…}, {@code cmpl-…}). */
        String id() {
            return id;
        }

        /** Stops the generation (or its wait for a slot) soon; a no-op once it has finished. */
        void cancel(Cancel reason) {
            synchronized (this) {
                if (finished || cancelled != null) {
                    return;
                }
                cancelled = reason;
                if (worker != null) {
                    worker.interrupt();
                }
            }
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
                jobs.remove(this);
            }
            deliver(response, failure);
        }

        private GenerateResponse execute() {
            permit.awaitTurn();
            String policy = request.policy().name();
            try (GenerationMetrics.RequestRecorder recorder = metrics.start(policy, arrival)) {
                recorder.promptPrefilled(promptTokens);
                GenerationResult result;
                try {
                    result = generator.generate(request, new Listener(recorder));
                } catch (EngineException e) {
                    if (!isOutOfMemory(e)) {
                        throw e;
                    }
                    GenerationMetrics.Phase phase = recorder.decoding()
                            ? GenerationMetrics.Phase.DECODE : GenerationMetrics.Phase.PREFILL;
                    metrics.recordOutOfMemory(policy, phase, GenerationMetrics.Source.DEVICE);
                    releaseDeviceMemory();
                    log.warn("Out of memory on {} during {} ({} policy, {} prompt tokens): {}", guard.deviceName(),
                            phase.name().toLowerCase(Locale.ROOT), policy, promptTokens, e.getMessage());
                    throw ApiException.insufficientMemory("the device ran out of memory during "
                            + phase.name().toLowerCase(Locale.ROOT) + "; use a shorter prompt, fewer new tokens or a"
                            + " bounded kv_cache policy", e)
                            .with("kv_bytes_per_token", guard.kvBytesPerToken())
                            .with("required_bytes", permit.reservedBytes());
                }
                return GenerateResponse.of("gen-" + id, result, permit.waitedNanos(), memory.snapshot());
            }
        }

        private void deliver(GenerateResponse response, Throwable failure) {
            try {
                if (failure == null) {
                    sink.done(response);
                    return;
                }
                ApiException problem = problem(failure);
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

        /** The problem a failure means for the client, or null for a server fault. */
        private ApiException problem(Throwable failure) {
            if (failure instanceof ApiException api) {
                return api;
            }
            if (failure instanceof ContextOverflowException overflow) {
                return ApiException.tooLarge("prompt", overflow.getMessage(), overflow);
            }
            if (failure instanceof GenerationCancelledException cancel) {
                Cancel reason;
                synchronized (this) {
                    reason = cancelled;
                }
                String why = reason == null ? cancel.getMessage() : switch (reason) {
                    case TIMEOUT -> "the generation took longer than kvlab.serving.request-timeout ("
                            + timeout.toSeconds() + "s) and was cancelled";
                    case CLIENT_GONE -> "the client disconnected";
                    case SHUTDOWN -> "the server is shutting down";
                };
                return ApiException.unavailable(why, cancel);
            }
            return null;
        }

        /** Streams tokens to the sink and keeps the live figures (metrics, admission) up to date. */
        private final class Listener implements TokenListener {
            private final GenerationMetrics.RequestRecorder recorder;

            Listener(GenerationMetrics.RequestRecorder recorder) {
                this.recorder = recorder;
            }

            @Override
            public void onToken(int tokenId, String text) {
                if (tokenId >= 0) {
                    recorder.tokenGenerated();
                }
                try {
                    sink.token(tokenId, text);
                } catch (IOException e) {
                    cancel(Cancel.CLIENT_GONE);
                    throw new GenerationCancelledException("the client disconnected: " + e.getMessage());
                }
            }

            @Override
            public void onCacheUpdated(KvCache cache) {
                CacheStats s = cache.stats();
                recorder.cacheUpdated(s.bytes(), s.storedTokens(), s.fullCacheBytes(), s.evicted(), s.merged());
                permit.liveBytes(cache.allocatedBytes());
            }
        }
    }
}
