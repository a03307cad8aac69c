package dev.kvlab.serving.generate;

import ai.djl.pytorch.jni.JniUtils;
import dev.kvlab.cache.MemoryBudget;
import dev.kvlab.cache.policy.PolicyException;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.StepScheduler;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.metrics.GenerationMetrics;
import dev.kvlab.model.Architecture;
import dev.kvlab.model.DeviceOutOfMemory;
import dev.kvlab.serving.admission.AdmissionControl;
import dev.kvlab.serving.admission.MemoryGuard;
import dev.kvlab.serving.generate.GenerationFailures.Cancel;
import dev.kvlab.serving.web.ApiException;
import dev.kvlab.tokenizer.TextTokenizer;
import jakarta.annotation.PreDestroy;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
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
 * Admits validated generation requests to the shared model. Before a request queues it is checked: a
 * prompt too long is 413, one that cannot fit in memory even alone is 507 ({@link MemoryGuard}), a
 * full queue is 429 ({@link AdmissionControl}). The prompt is encoded once, here. An admitted request
 * becomes a {@link GenerationJob}, which waits for its turn and then generates in the model's
 * {@link StepScheduler} batch, under {@code kvlab.serving.request-timeout}.
 */
@Service
public class GenerationService {

    private static final Logger log = LoggerFactory.getLogger(GenerationService.class);
    private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(30);

    private final StepScheduler scheduler;
    private final AdmissionControl admission;
    private final MemoryGuard guard;
    private final GenerationMetrics metrics;
    private final DeviceMemoryProbe memory;
    private final GenerationFailures failures;
    private final int maxPromptTokens;
    private final Duration timeout;
    private final ThreadPoolExecutor workers;
    private final ScheduledThreadPoolExecutor timer;
    private final Set<GenerationJob> jobs = ConcurrentHashMap.newKeySet();
    private volatile boolean closing;

    @Autowired
    GenerationService(StepScheduler scheduler, AdmissionControl admission, MemoryGuard guard,
            GenerationMetrics metrics, DeviceMemoryProbe memory, KvlabProperties properties) {
        this.scheduler = scheduler;
        this.admission = admission;
        this.guard = guard;
        this.metrics = metrics;
        this.memory = memory;
        this.maxPromptTokens = properties.serving().maxPromptTokens();
        this.timeout = properties.serving().requestTimeout();
        this.failures = new GenerationFailures(timeout);
        // one thread per admitted request (running or queued), which only waits and writes to its client:
        // admission bounds them, so none is refused
        int threads = admission.maxConcurrent() + properties.serving().maxQueue() + 1;
        this.workers = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                daemonThreads("kvlab-generate-"));
        this.workers.allowCoreThreadTimeOut(true);
        this.timer = new ScheduledThreadPoolExecutor(1, daemonThreads("kvlab-request-timeout-"));
        this.timer.setRemoveOnCancelPolicy(true);
    }

    StepScheduler scheduler() {
        return scheduler;
    }

    GenerationMetrics metrics() {
        return metrics;
    }

    DeviceMemoryProbe memory() {
        return memory;
    }

    GenerationFailures failures() {
        return failures;
    }

    void finished(GenerationJob job) {
        jobs.remove(job);
    }

    /** The served model's tokenizer. */
    public TextTokenizer tokenizer() {
        return scheduler.generator().tokenizer();
    }

    /** The prompt as the model sees a text: its token ids, BOS included when the model uses one. */
    public int[] promptTokens(String text) {
        return scheduler.generator().promptTokens(text);
    }

    /** The model's positions: the longest sequence it can read. */
    public int maxPositions() {
        return scheduler.generator().model().config().maxPositions();
    }

    /** Token ids both the model and its tokenizer know: 0 … this − 1. */
    public int vocabSize() {
        return Math.min(scheduler.generator().model().config().vocabSize(), tokenizer().vocabSize());
    }

    /** The loaded model's architecture, which decides which cache options apply. */
    public Architecture architecture() {
        return scheduler.generator().model().config().architecture();
    }

    /**
     * Checks and admits the request, then generates in the background, reporting each token, then the
     * response or the failure, to {@code sink}. Both JSON and event-stream replies are sinks.
     *
     * @throws ApiException 413 for a prompt over {@code kvlab.serving.max-prompt-tokens} or past the
     *     model's positions, 400 for a prompt that encodes to nothing, 429 when the queue is full, 507
     *     when it does not fit in memory
     */
    public GenerationJob stream(GenerationRequest request, GenerationSink sink) {
        return stream(request, null, sink);
    }

    /**
     * {@link #stream(GenerationRequest, GenerationSink)} for a prompt given as token ids, fed to the
     * model as they are (no BOS added); null encodes {@code request.prompt()}.
     */
    public GenerationJob stream(GenerationRequest request, int[] promptIds, GenerationSink sink) {
        long arrival = System.nanoTime();
        if (closing) {
            throw ApiException.unavailable("the server is shutting down", null);
        }
        int[] prompt = promptIds != null ? promptIds.clone() : scheduler.generator().promptTokens(request.prompt());
        int promptTokens = prompt.length;
        if (promptTokens > maxPromptTokens) {
            throw ApiException.tooLarge("prompt", "is " + promptTokens + " tokens, more than the " + maxPromptTokens
                    + " allowed (kvlab.serving.max-prompt-tokens)", null);
        }
        if (promptTokens == 0) {
            throw ApiException.badRequest("prompt", "encodes to no tokens and the model has no bos token");
        }
        MemoryBudget.Footprint need;
        try {
            need = guard.predict(request.policy(), promptTokens, request.maxNewTokens());
        } catch (PolicyException e) { // a quantization group that does not fit the model's head dimension
            throw ApiException.badRequest("kv_cache." + e.field(), e.getMessage());
        }
        checkFits(request.policy().name(), need);
        AdmissionControl.Permit permit = admission.enter(need.requiredBytes());
        GenerationJob job = new GenerationJob(this, request, prompt, arrival, permit, sink);
        jobs.add(job);
        try {
            long left = timeout.toNanos() - (System.nanoTime() - arrival);
            job.deadline(timer.schedule(() -> job.cancel(Cancel.TIMEOUT), left, TimeUnit.NANOSECONDS));
            workers.execute(job);
        } catch (RejectedExecutionException e) {
            jobs.remove(job);
            permit.close();
            throw ApiException.unavailable("the server is shutting down", e);
        }
        return job;
    }

    /** 507 with the figures when the request could not fit even if it ran alone. */
    private void checkFits(String policy, MemoryBudget.Footprint need) {
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

    /**
     * The exception a failed generation ends with. A device out-of-memory is counted, the device's
     * caching allocator is emptied so the next request starts clean, and the client gets a 507.
     */
    RuntimeException failureOf(Throwable failure, String policy, boolean decoding, int promptTokens,
            long reservedBytes) {
        if (!DeviceOutOfMemory.isOutOfMemory(failure)) {
            return failure instanceof RuntimeException r ? r : new IllegalStateException(failure);
        }
        GenerationMetrics.Phase phase = decoding ? GenerationMetrics.Phase.DECODE : GenerationMetrics.Phase.PREFILL;
        metrics.recordOutOfMemory(policy, phase, GenerationMetrics.Source.DEVICE);
        releaseDeviceMemory();
        String during = phase.name().toLowerCase(Locale.ROOT);
        log.warn("Out of memory on {} during {} ({} policy, {} prompt tokens): {}", guard.deviceName(), during, policy,
                promptTokens, failure.getMessage());
        return ApiException.insufficientMemory("the device ran out of memory during " + during
                + "; use a shorter prompt, fewer new tokens or a bounded kv_cache policy", failure)
                .with("kv_bytes_per_token", guard.kvBytesPerToken())
                .with("required_bytes", reservedBytes);
    }

    /** Returns what the failed request held on a GPU to the device, so the next request can use it. */
    private void releaseDeviceMemory() {
        if (scheduler.generator().model() != null && scheduler.generator().model().device().isGpu()) {
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
}
