package dev.kvlab.serving;

import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationCancelledException;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;

/**
 * Lets at most {@code kvlab.serving.max-concurrent} generations run on the shared model, queues up to
 * {@code kvlab.serving.max-queue} more in arrival order, and refuses the rest with 429 at once rather
 * than letting them pile up. Exports {@code kvlab_requests_running} and {@code kvlab_requests_waiting}.
 */
@Component
class AdmissionControl {

    static final Duration RETRY_AFTER = Duration.ofSeconds(1);

    private final Semaphore slots;
    private final int maxConcurrent;
    private final int maxQueue;
    private final AtomicInteger waiting = new AtomicInteger();
    private final AtomicInteger running = new AtomicInteger();

    @Autowired
    AdmissionControl(KvlabProperties properties, MeterRegistry registry) {
        this(properties.serving().maxConcurrent(), properties.serving().maxQueue());
        Gauge.builder("kvlab.requests.running", running, AtomicInteger::get)
                .description("Generations running on the model now")
                .register(registry);
        Gauge.builder("kvlab.requests.waiting", waiting, AtomicInteger::get)
                .description("Generation requests queued for a slot")
                .register(registry);
    }

    AdmissionControl(int maxConcurrent, int maxQueue) {
        this.slots = new Semaphore(maxConcurrent, true);
        this.maxConcurrent = maxConcurrent;
        this.maxQueue = maxQueue;
    }

    /**
     * Waits for a slot.
     *
     * @throws ApiException 429 when {@code max-queue} requests are already waiting
     * @throws GenerationCancelledException when the thread is interrupted while waiting
     */
    Permit acquire() {
        long start = System.nanoTime();
        try {
            if (!slots.tryAcquire(0, TimeUnit.NANOSECONDS)) { // honours the queue's order, unlike tryAcquire()
                if (waiting.incrementAndGet() > maxQueue) {
                    waiting.decrementAndGet();
                    throw ApiException.queueFull("the server is busy: " + maxConcurrent + " generation(s) running and "
                            + maxQueue + " waiting; retry later", RETRY_AFTER);
                }
                try {
                    slots.acquire();
                } finally {
                    waiting.decrementAndGet();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GenerationCancelledException("cancelled while waiting for a generation slot");
        }
        running.incrementAndGet();
        return new Permit(System.nanoTime() - start);
    }

    int running() {
        return running.get();
    }

    int waiting() {
        return waiting.get();
    }

    /** A held slot; closing it (once) lets the next request in. */
    final class Permit implements AutoCloseable {
        private final long waitedNanos;
        private boolean released;

        private Permit(long waitedNanos) {
            this.waitedNanos = waitedNanos;
        }

        /** How long the request queued for this slot. */
        long waitedNanos() {
            return waitedNanos;
        }

        @Override
        public void close() {
            if (!released) {
                released = true;
                running.decrementAndGet();
                slots.release();
            }
        }
    }
}
