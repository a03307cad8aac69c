package dev.kvlab.serving.admission;

import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationCancelledException;
import dev.kvlab.generation.StepScheduler;
import dev.kvlab.serving.web.ApiException;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;

/**
 * Lets at most {@code kvlab.serving.max-concurrent} generations (the scheduler's batch) run on the
 * shared model, and only as
 * many as the memory left can hold: each request reserves the bytes {@link MemoryGuard} predicts for
 * it while it runs. Up to {@code kvlab.serving.max-queue} more wait in arrival order (first come, first
 * served: a large request at the head is not overtaken by small ones); the rest are refused with 429
 * at once rather than left to pile up. Exports {@code kvlab_requests_running} and
 * {@code kvlab_requests_waiting}.
 */
@Component
public class AdmissionControl {

    static final Duration RETRY_AFTER = Duration.ofSeconds(1);

    /** How often a request waiting for memory looks again (memory freed outside kvlab signals nothing). */
    private static final long MEMORY_RECHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    /** What is free for a new reservation, given the bytes reserved by running requests and what they hold now. */
    @FunctionalInterface
    interface Memory {
        Memory UNLIMITED = (reserved, live) -> Long.MAX_VALUE;

        long availableBytes(long reservedBytes, long liveBytes);
    }

    private final int maxConcurrent;
    private final int maxQueue;
    private final Memory memory;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Permit> queue = new ArrayDeque<>();
    private final Set<Permit> runningPermits = new HashSet<>();
    private long reservedBytes;

    @Autowired
    AdmissionControl(StepScheduler scheduler, KvlabProperties properties, MemoryGuard guard, MeterRegistry registry) {
        this(scheduler.maxSequences(), properties.serving().maxQueue(), guard::availableBytes);
        Gauge.builder("kvlab.requests.running", this, AdmissionControl::running)
                .description("Generations running on the model now")
                .register(registry);
        Gauge.builder("kvlab.requests.waiting", this, AdmissionControl::waiting)
                .description("Generation requests queued for a slot or for memory")
                .register(registry);
    }

    public AdmissionControl(int maxConcurrent, int maxQueue) {
        this(maxConcurrent, maxQueue, Memory.UNLIMITED);
    }

    AdmissionControl(int maxConcurrent, int maxQueue, Memory memory) {
        this.maxConcurrent = maxConcurrent;
        this.maxQueue = maxQueue;
        this.memory = memory;
    }

    /**
     * Takes a place for a request that will reserve {@code bytes} while it runs: a slot at once when
     * one is free and the bytes fit (and nobody is queued ahead), else a place in the queue.
     *
     * @throws ApiException 429 with {@code Retry-After} when {@code max-queue} requests already wait
     */
    public Permit enter(long bytes) {
        lock.lock();
        try {
            Permit permit = new Permit(bytes);
            if (queue.isEmpty() && canRun(permit)) {
                start(permit);
            } else if (queue.size() < maxQueue) {
                queue.addLast(permit);
            } else {
                throw ApiException.queueFull("the server is busy: " + runningPermits.size() + " generation(s) running"
                        + " and " + queue.size() + " waiting (kvlab.serving.max-concurrent=" + maxConcurrent
                        + ", max-queue=" + maxQueue + "); retry later", RETRY_AFTER);
            }
            return permit;
        } finally {
            lock.unlock();
        }
    }

    /** {@link #enter} for a request that reserves no memory, then {@link Permit#awaitTurn}. */
    Permit acquire() {
        Permit permit = enter(0);
        permit.awaitTurn();
        return permit;
    }

    /** The most generations that run at once: the scheduler's batch size. */
    public int maxConcurrent() {
        return maxConcurrent;
    }

    public int running() {
        lock.lock();
        try {
            return runningPermits.size();
        } finally {
            lock.unlock();
        }
    }

    int waiting() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    /** Bytes reserved by the running requests. */
    public long reservedBytes() {
        lock.lock();
        try {
            return reservedBytes;
        } finally {
            lock.unlock();
        }
    }

    /** KV bytes the running requests hold now (each at most its reservation). */
    public long liveBytes() {
        lock.lock();
        try {
            return liveBytesLocked();
        } finally {
            lock.unlock();
        }
    }

    private long liveBytesLocked() {
        long live = 0;
        for (Permit p : runningPermits) {
            live += Math.min(p.liveBytes, p.bytes);
        }
        return live;
    }

    private boolean canRun(Permit permit) {
        if (runningPermits.size() >= maxConcurrent) {
            return false;
        }
        return permit.bytes == 0 || permit.bytes <= memory.availableBytes(reservedBytes, liveBytesLocked());
    }

    private void start(Permit permit) {
        permit.state = State.RUNNING;
        permit.startedAt = System.nanoTime();
        runningPermits.add(permit);
        reservedBytes += permit.bytes;
    }

    private enum State { WAITING, RUNNING, CLOSED }

    /** A place in the queue, then a slot with its memory reserved; closing it (once) lets the next request in. */
    public final class Permit implements AutoCloseable {
        private final long bytes;
        private final long enteredAt = System.nanoTime();
        private long startedAt;
        private State state = State.WAITING;
        private volatile long liveBytes;

        private Permit(long bytes) {
            this.bytes = bytes;
        }

        /**
         * Waits until this request is at the head of the queue, a slot is free and its bytes fit.
         *
         * @throws GenerationCancelledException when the thread is interrupted while waiting (the place
         *     in the queue is given up)
         */
        public void awaitTurn() {
            lock.lock();
            try {
                while (state == State.WAITING) {
                    if (queue.peekFirst() == this && canRun(this)) {
                        queue.removeFirst();
                        start(this);
                        changed.signalAll(); // the next in line may fit too
                        return;
                    }
                    if (runningPermits.size() < maxConcurrent && queue.peekFirst() == this) {
                        changed.awaitNanos(MEMORY_RECHECK_NANOS); // only memory is missing
                    } else {
                        changed.await();
                    }
                }
                if (state == State.CLOSED) {
                    throw new GenerationCancelledException("the request was withdrawn while queued");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new GenerationCancelledException("cancelled while waiting for a generation slot");
            } finally {
                lock.unlock();
            }
        }

        /** How long the request queued before it was let in (so far, if it is still waiting). */
        public long waitedNanos() {
            lock.lock();
            try {
                return (startedAt != 0 ? startedAt : System.nanoTime()) - enteredAt;
            } finally {
                lock.unlock();
            }
        }

        /** The bytes reserved for this request while it runs. */
        public long reservedBytes() {
            return bytes;
        }

        /** What the request's cache holds now; lets memory it has not yet used count as free on the device. */
        public void liveBytes(long bytes) {
            liveBytes = bytes;
        }

        @Override
        public void close() {
            lock.lock();
            try {
                if (state == State.RUNNING) {
                    runningPermits.remove(this);
                    reservedBytes -= bytes;
                } else if (state == State.WAITING) {
                    queue.remove(this);
                }
                state = State.CLOSED;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }
}
