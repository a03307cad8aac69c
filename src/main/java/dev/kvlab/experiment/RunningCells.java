package dev.kvlab.experiment;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cells this instance is running, so cancelling an experiment stops its running cells too. A
 * cancelled cell's thread is interrupted while it computes (never while it writes to the database):
 * the forward-pass loops check the interrupt between passes ({@link ExperimentEngine#checkCancelled},
 * the generator, the perplexity evaluator) and end with {@code GenerationCancelledException}, which
 * the {@link CellRunner} records as {@code cancelled}. A cancel sent to another replica is noticed here
 * by re-reading, every {@link #CHECK_PERIOD}, which of the experiments running here are cancelled.
 */
final class RunningCells {

    /** How often the database is asked whether an experiment running here was cancelled elsewhere. */
    static final Duration CHECK_PERIOD = Duration.ofSeconds(1);

    private static final Logger log = LoggerFactory.getLogger(RunningCells.class);

    /** One cell running on this instance, on {@code thread}. */
    static final class Cell {
        final String cellId;
        final String experimentId;
        private final Thread thread = Thread.currentThread();
        private boolean computing;
        private volatile boolean cancelled;

        private Cell(String cellId, String experimentId) {
            this.cellId = cellId;
            this.experimentId = experimentId;
        }

        boolean cancelled() {
            return cancelled;
        }

        /** From here on a cancel interrupts the cell's thread. */
        synchronized void beginWork() {
            computing = true;
            if (cancelled) {
                thread.interrupt();
            }
        }

        /** From here on the thread writes results: no more interrupts, and the one a cancel sent is cleared. */
        synchronized void endWork() {
            computing = false;
            if (cancelled) {
                Thread.interrupted();
            }
        }

        synchronized void cancel() {
            cancelled = true;
            if (computing) {
                thread.interrupt();
            }
        }
    }

    private final Map<String, Cell> cells = new ConcurrentHashMap<>();
    private final ExperimentRepository repository;
    private ScheduledExecutorService watcher;

    RunningCells(ExperimentRepository repository) {
        this.repository = repository;
    }

    /** Registers the calling thread as running {@code cellId}; pair with {@link #leave}. */
    Cell enter(String cellId, String experimentId) {
        Cell cell = new Cell(cellId, experimentId);
        cells.put(cellId, cell);
        return cell;
    }

    void leave(Cell cell) {
        cells.remove(cell.cellId, cell);
    }

    /** Stops this instance's running cells of the experiment; returns how many there were. */
    int cancel(String experimentId) {
        int n = 0;
        for (Cell cell : cells.values()) {
            if (cell.experimentId.equals(experimentId)) {
                cell.cancel();
                n++;
            }
        }
        return n;
    }

    /** Cancels the cells whose experiment another replica cancelled. */
    void checkDatabase() {
        Set<String> experiments = cells.values().stream().map(c -> c.experimentId).collect(Collectors.toSet());
        if (experiments.isEmpty()) {
            return;
        }
        List<String> cancelled = repository.cancelledAmong(experiments);
        cancelled.forEach(this::cancel);
    }

    synchronized void start() {
        watcher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "kvlab-experiment-cancel-watch");
            t.setDaemon(true);
            return t;
        });
        long period = CHECK_PERIOD.toMillis();
        watcher.scheduleWithFixedDelay(() -> {
            try {
                checkDatabase();
            } catch (RuntimeException e) {
                log.debug("Could not check for cancelled experiments; retrying", e);
            }
        }, period, period, TimeUnit.MILLISECONDS);
    }

    synchronized void stop() {
        if (watcher != null) {
            watcher.shutdownNow();
            watcher = null;
        }
    }
}
