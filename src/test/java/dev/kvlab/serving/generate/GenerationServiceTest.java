package dev.kvlab.serving.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import ai.djl.Device;
import ai.djl.engine.EngineException;
import dev.kvlab.cache.CacheStats;
import dev.kvlab.cache.MemoryBudget;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.FinishReason;
import dev.kvlab.generation.GenerationCancelledException;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.GenerationTimings;
import dev.kvlab.generation.Generator;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.generation.StepScheduler;
import dev.kvlab.generation.TokenListener;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.metrics.GenerationMetrics;
import dev.kvlab.model.ContextOverflowException;
import dev.kvlab.serving.admission.AdmissionControl;
import dev.kvlab.serving.admission.MemoryGuard;
import dev.kvlab.serving.web.ApiException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.util.unit.DataSize;

/** Engine failures a client caused map to problem statuses, never to a 500; cancelled work frees its slot. */
class GenerationServiceTest {

    private final Generator generator = mock(Generator.class);
    private final StepScheduler scheduler = mock(StepScheduler.class);
    /** What the scheduler does with the next submissions, in turn; the last one repeats. */
    private final List<Behaviour> behaviours = new CopyOnWriteArrayList<>();
    private final MemoryGuard guard = mock(MemoryGuard.class);
    private final AdmissionControl admission = new AdmissionControl(1, 0);
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final GenerationService service = service(Duration.ofSeconds(30));

    GenerationServiceTest() {
        when(guard.predict(any(), anyLong(), anyLong())).thenReturn(new MemoryBudget.Footprint(8, 800, 100));
        when(guard.capacity(anyLong()))
                .thenReturn(new MemoryGuard.Availability(1_000_000, GenerationMetrics.Source.DEVICE));
        when(generator.promptTokens("hello")).thenReturn(new int[3]);
        when(scheduler.generator()).thenReturn(generator);
        when(scheduler.submit(any(), any(), any())).thenAnswer(call -> {
            TokenListener listener = call.getArgument(2);
            CompletableFuture<GenerationResult> result = new CompletableFuture<>();
            StepScheduler.Handle handle = mock(StepScheduler.Handle.class);
            when(handle.result()).thenReturn(result);
            doAnswer(c -> result.completeExceptionally(new GenerationCancelledException(c.getArgument(0))))
                    .when(handle).cancel(anyString());
            Behaviour next = behaviours.size() > 1 ? behaviours.remove(0) : behaviours.get(0);
            Thread step = new Thread(() -> {
                try {
                    next.run(listener, result);
                } catch (Throwable e) {
                    result.completeExceptionally(e);
                }
            });
            step.setDaemon(true);
            step.start();
            return handle;
        });
    }

    /** The scheduler's side of one generation: emits through the listener, then ends the result. */
    @FunctionalInterface
    private interface Behaviour {
        void run(TokenListener listener, CompletableFuture<GenerationResult> result) throws Exception;
    }

    private void schedulerReturns(GenerationResult r) {
        behaviours.add((listener, result) -> result.complete(r));
    }

    private void schedulerFails(RuntimeException e) {
        behaviours.add((listener, result) -> result.completeExceptionally(e));
    }

    @AfterEach
    void stop() {
        service.shutdown();
    }

    private GenerationService service(Duration timeout) {
        KvlabProperties properties = new KvlabProperties(new KvlabProperties.Model("m", null), "cpu",
                new KvlabProperties.Prefill(512), new KvlabProperties.Memory(null),
                new KvlabProperties.Serving(1024, 10, 1, 0, timeout, DataSize.ofMegabytes(1)),
                new KvlabProperties.Security(null),
                new KvlabProperties.Cpu(1));
        return new GenerationService(scheduler, admission, guard, new GenerationMetrics(registry),
                new DeviceMemoryProbe(Device.cpu()), properties);
    }

    private static GenerationRequest request() {
        return new GenerationRequest("hello", 4, SamplingParams.greedy(), List.of(), new FullPolicy());
    }

    private static GenerationResult result(String text) {
        return new GenerationResult(text, FinishReason.LENGTH, 3, 2, new GenerationTimings(1, 1, 1, 1),
                new CacheStats("full", Map.of(), 5, 5, 640, 640, 640, 0, 0, 0));
    }

    private static void assertProblem(Runnable call, HttpStatusCode status, String field) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(ApiException.class, e -> {
            assertThat(e.getStatusCode()).isEqualTo(status);
            assertThat(e.getBody().getProperties() == null ? null : e.getBody().getProperties().get("field"))
                    .isEqualTo(field);
        });
    }

    private double oomEvents(String source) {
        return registry.get("kvlab.oom.events").tag("policy", "full").tag("source", source).counters().stream()
                .mapToDouble(c -> c.count()).sum();
    }

    /** A scheduler that emits a token every few milliseconds until the generation is cancelled. */
    private void generateUntilInterrupted(CountDownLatch started) {
        behaviours.add((listener, result) -> {
            started.countDown();
            while (!result.isDone()) {
                listener.onToken(1, "x");
                Thread.sleep(5);
            }
        });
    }

    @Test
    void generatesAndReleasesTheSlot() {
        schedulerReturns(result("hi"));
        GenerateResponse r = await(service, request());
        assertThat(r.text()).isEqualTo("hi");
        assertThat(r.id()).startsWith("gen-");
        assertThat(admission.running()).isZero();
        assertThat(admission.reservedBytes()).isZero();
    }

    @Test
    void promptOverTheLimitIs413BeforeQueueing() {
        when(generator.promptTokens("hello")).thenReturn(new int[11]);
        assertProblem(() -> await(service, request()), HttpStatus.CONTENT_TOO_LARGE, "prompt");
        verify(scheduler, never()).submit(any(), any(), any());
    }

    @Test
    void promptWithNoTokensIs400() {
        when(generator.promptTokens("hello")).thenReturn(new int[0]);
        assertProblem(() -> await(service, request()), HttpStatus.BAD_REQUEST, "prompt");
    }

    @Test
    void contextOverflowIs413AndFreesTheSlot() {
        schedulerFails(new ContextOverflowException("past n_positions 128", 128));
        assertProblem(() -> await(service, request()), HttpStatus.CONTENT_TOO_LARGE, "prompt");
        assertThat(admission.running()).isZero();
    }

    @Test
    void requestThatCannotFitIs507WithTheFiguresAndNeverQueues() {
        when(guard.capacity(anyLong())).thenReturn(new MemoryGuard.Availability(850, GenerationMetrics.Source.BUDGET));
        when(guard.kvBytesPerToken()).thenReturn(100L);
        assertThatThrownBy(() -> await(service, request())).isInstanceOfSatisfying(ApiException.class, e -> {
            assertThat(e.getStatusCode()).isEqualTo(HttpStatus.INSUFFICIENT_STORAGE);
            assertThat(e.getBody().getProperties()).containsEntry("required_bytes", 900L)
                    .containsEntry("available_bytes", 850L).containsEntry("kv_bytes_per_token", 100L)
                    .containsEntry("limited_by", "budget");
        });
        verify(scheduler, never()).submit(any(), any(), any());
        assertThat(oomEvents("budget")).isEqualTo(1);
    }

    @Test
    void deviceOutOfMemoryIs507CountedAndTheNextRequestRuns() {
        schedulerFails(new EngineException("CUDA out of memory. Tried to allocate"));
        schedulerReturns(result("fine"));
        assertProblem(() -> await(service, request()), HttpStatus.INSUFFICIENT_STORAGE, null);
        assertThat(admission.running()).isZero();
        assertThat(oomEvents("device")).isEqualTo(1);
        assertThat(registry.get("kvlab.oom.events").tag("phase", "prefill").tag("source", "device")
                .tag("policy", "full").counter().count()).isEqualTo(1);
        assertThat(await(service, request()).text()).isEqualTo("fine");
    }

    @Test
    void otherEngineFailuresAreNotMistakenForOutOfMemory() {
        schedulerFails(new EngineException("shape mismatch"));
        assertThatThrownBy(() -> await(service, request())).isInstanceOfSatisfying(ApiException.class,
                e -> assertThat(e.getStatusCode()).isEqualTo(HttpStatus.INTERNAL_SERVER_ERROR)).hasCauseInstanceOf(EngineException.class);
        assertThat(oomEvents("device")).isZero();
        assertThat(admission.running()).isZero();
    }

    @Test
    void generationPastTheRequestTimeoutIsCancelledWith503() {
        GenerationService quick = service(Duration.ofMillis(200));
        try {
            generateUntilInterrupted(new CountDownLatch(1));
            long start = System.nanoTime();
            assertThatThrownBy(() -> await(quick, request())).isInstanceOfSatisfying(ApiException.class, e -> {
                assertThat(e.getStatusCode()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
                assertThat(e.getBody().getDetail()).contains("kvlab.serving.request-timeout");
            });
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
            assertThat(admission.running()).isZero();
        } finally {
            quick.shutdown();
        }
    }

    @Test
    void clientThatGoesAwayCancelsTheGenerationAndFreesTheSlot() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        generateUntilInterrupted(started);
        AtomicBoolean gone = new AtomicBoolean();
        CompletableFuture<ApiException> failure = new CompletableFuture<>();
        service.stream(request(), sink(failure, () -> {
            if (gone.get()) {
                throw new IOException("Broken pipe");
            }
        }));
        assertThat(started.await(5, TimeUnit.SECONDS)).isTrue();
        gone.set(true);
        assertThat(failure.get(5, TimeUnit.SECONDS).getBody().getDetail()).contains("disconnected");
        assertThat(admission.running()).isZero();
    }

    @Test
    void cancelledStreamStopsAtTheNextToken() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        generateUntilInterrupted(started);
        CompletableFuture<ApiException> failure = new CompletableFuture<>();
        GenerationJob job = service.stream(request(), sink(failure));
        assertThat(started.await(5, TimeUnit.SECONDS)).isTrue();
        job.cancel(GenerationFailures.Cancel.CLIENT_GONE);
        assertThat(failure.get(5, TimeUnit.SECONDS).getStatusCode()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
        assertThat(admission.running()).isZero();
    }

    @Test
    void shutdownCancelsWhatIsStillRunningAndRefusesNewWork() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        generateUntilInterrupted(started);
        CompletableFuture<ApiException> failure = new CompletableFuture<>();
        service.stream(request(), sink(failure));
        assertThat(started.await(5, TimeUnit.SECONDS)).isTrue();
        service.shutdown();
        assertThat(failure.get(5, TimeUnit.SECONDS).getBody().getDetail()).contains("shutting down");
        assertThat(admission.running()).isZero();
        assertProblem(() -> await(service, request()), HttpStatus.SERVICE_UNAVAILABLE, null);
    }

    /** What a client does with each token: a streaming client writes it, and the write may fail. */
    private interface TokenWrite {
        void run() throws IOException;
    }

    private static GenerationSink sink(CompletableFuture<ApiException> failure) {
        return sink(failure, () -> {});
    }

    /** A sink that completes {@code failure} with the problem a stream ends with; finishing fails the test. */
    private static GenerationSink sink(CompletableFuture<ApiException> failure, TokenWrite onToken) {
        return new GenerationSink() {
            @Override
            public void token(int tokenId, String text) throws IOException {
                onToken.run();
            }

            @Override
            public void done(GenerateResponse response) {
                failure.completeExceptionally(new AssertionError("finished"));
            }

            @Override
            public void failed(ApiException problem) {
                failure.complete(problem);
            }
        };
    }

    /** Streams the request into a sink that keeps only the end, and waits for it, as a JSON reply does. */
    private static GenerateResponse await(GenerationService service, GenerationRequest request) {
        java.util.concurrent.CompletableFuture<GenerateResponse> end = new java.util.concurrent.CompletableFuture<>();
        service.stream(request, new GenerationSink() {
            @Override
            public void token(int tokenId, String text) {}

            @Override
            public void done(GenerateResponse response) {
                end.complete(response);
            }

            @Override
            public void failed(ApiException problem) {
                end.completeExceptionally(problem);
            }
        });
        try {
            return end.get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw (RuntimeException) e.getCause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
