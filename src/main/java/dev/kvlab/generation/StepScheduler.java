package dev.kvlab.generation;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The serving engine of one model (continuous batching): a single thread runs step after step, each
 * step one forward pass over every running sequence ({@link Batch}). Submitted generations join at
 * the next step boundary, up to {@code maxSequences} at once (later ones wait their turn in arrival
 * order), and leave the moment they end, so no request holds a thread of its own while it decodes.
 * Listeners are called on the scheduler thread and must not block: hand I/O to another thread.
 */
public final class StepScheduler implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(StepScheduler.class);

    /** Told about every step, on the scheduler thread (for meters). */
    @FunctionalInterface
    public interface StepObserver {
        StepObserver NONE = (sequences, tokens, nanos) -> {};

        void onStep(int sequences, int tokens, long nanos);
    }

    private final Generator generator;
    private final int maxSequences;
    private final int maxBatchTokens;
    private final StepObserver observer;
    private final LinkedBlockingQueue<Sequence> incoming = new LinkedBlockingQueue<>();
    private final AtomicLong order = new AtomicLong();
    private final Thread thread;
    private volatile boolean closed;

    /**
     * @param maxSequences most sequences in one step
     * @param maxBatchTokens most tokens in one step: decode rows plus the room a prompt chunk may take;
     *     more than {@code maxSequences}, so a prompt always makes progress
     */
    public StepScheduler(Generator generator, int maxSequences, int maxBatchTokens, StepObserver observer) {
        if (maxSequences < 1) {
            throw new IllegalArgumentException("maxSequences must be ≥ 1");
        }
        if (maxBatchTokens <= maxSequences) {
            throw new IllegalArgumentException("maxBatchTokens (" + maxBatchTokens + ") must exceed maxSequences ("
                    + maxSequences + ") so that prompts are prefilled while sequences decode");
        }
        this.generator = generator;
        this.maxSequences = maxSequences;
        this.maxBatchTokens = maxBatchTokens;
        this.observer = observer;
        this.thread = new Thread(this::loop, "kvlab-scheduler");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    public int maxSequences() {
        return maxSequences;
    }

    public int maxBatchTokens() {
        return maxBatchTokens;
    }

    public Generator generator() {
        return generator;
    }

    /**
     * Queues a generation; it joins the batch at the next step with room for it.
     *
     * @param prompt the encoded prompt (BOS included), non-empty
     * @throws IllegalStateException when the scheduler is closed
     */
    public Handle submit(GenerationRequest request, int[] prompt, TokenListener listener) {
        if (closed) {
            throw new IllegalStateException("the scheduler is closed");
        }
        Sequence sequence = generator.newSequence(request, prompt, listener, order.incrementAndGet());
        incoming.add(sequence);
        if (closed && incoming.remove(sequence)) { // closed meanwhile: the loop may not see it
            sequence.fail(new GenerationCancelledException("the scheduler is closed"));
        }
        return new Handle(sequence);
    }

    /** A submitted generation: its result, and a way to cancel it. */
    public static final class Handle {
        private final Sequence sequence;

        private Handle(Sequence sequence) {
            this.sequence = sequence;
        }

        /**
         * Completes with the result, or exceptionally: {@link GenerationCancelledException} when
         * cancelled, the engine's exception when a step failed it (a device out-of-memory, say).
         * Its cache is freed before it completes.
         */
        public CompletableFuture<GenerationResult> result() {
            return sequence.result();
        }

        /** Ends the generation at the next step boundary (or before it starts) with {@code why}. */
        public void cancel(String why) {
            sequence.cancel(why);
        }

        /** Whether the prompt is still being prefilled (false once the first token is being decoded). */
        public boolean prefilling() {
            return sequence.prefilling();
        }
    }

    private void loop() {
        Batch batch = new Batch(generator.model(), maxBatchTokens);
        try {
            while (!closed) {
                admit(batch);
                if (batch.isEmpty()) {
                    Sequence next = incoming.poll(100, TimeUnit.MILLISECONDS);
                    if (next != null) {
                        join(batch, next);
                    }
                    continue;
                }
                try {
                    Batch.Step step = batch.step();
                    if (step != null && step.sequences() > 0) {
                        observer.onStep(step.sequences(), step.tokens(), step.nanos());
                    }
                } catch (RuntimeException | Error e) {
                    log.error("A scheduler step failed outside any sequence; failing the batch", e);
                    batch.failAll(e);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            GenerationCancelledException shutdown = new GenerationCancelledException("the scheduler is closed");
            batch.failAll(shutdown);
            Sequence s;
            while ((s = incoming.poll()) != null) {
                s.fail(shutdown);
            }
        }
    }

    private void admit(Batch batch) {
        while (batch.size() < maxSequences) {
            Sequence next = incoming.poll();
            if (next == null) {
                return;
            }
            join(batch, next);
        }
    }

    private static void join(Batch batch, Sequence sequence) {
        String why = sequence.cancelReason();
        if (why != null) {
            sequence.fail(new GenerationCancelledException(why));
        } else {
            batch.join(sequence);
        }
    }

    /** Stops the thread after its current step; every sequence still running or queued fails as cancelled. */
    @Override
    public void close() {
        closed = true;
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
