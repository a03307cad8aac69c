package dev.kvlab.experiment;

import dev.kvlab.experiment.ExperimentRepository.CellRow;
import dev.kvlab.experiment.ExperimentRepository.ExperimentRow;
import dev.kvlab.generation.GenerationCancelledException;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one cell when db-scheduler hands it over. Idempotent: a cell already finished (a duplicate
 * execution after a crash) or belonging to a cancelled experiment is skipped, and a result is stored
 * at most once. A cell that throws records its error and the experiment goes on; a cell whose
 * experiment is cancelled while it runs is stopped between two forward passes ({@link RunningCells})
 * and recorded as cancelled; only a cell interrupted otherwise (the instance is shutting down) is left
 * unfinished, to be run again.
 */
final class CellRunner {

    private static final Logger log = LoggerFactory.getLogger(CellRunner.class);

    private final ExperimentRepository repository;
    private final ExperimentKinds kinds;
    private final Json json;
    private final Runnable onChange;
    private final String instance;
    private final RunningCells runningCells;

    /** @param instance this server's name, recorded on the cells it runs */
    CellRunner(ExperimentRepository repository, ExperimentKinds kinds, Json json, Runnable onChange, String instance,
            RunningCells runningCells) {
        this.repository = repository;
        this.runningCells = runningCells;
        this.instance = instance;
        this.kinds = kinds;
        this.json = json;
        this.onChange = onChange;
    }

    void run(String cellId) {
        Optional<CellRow> found = repository.cell(cellId);
        if (found.isEmpty() || ExperimentStatus.of(found.get().status()).isFinished()) {
            return;
        }
        CellRow cell = found.get();
        ExperimentRow experiment = repository.find(cell.experimentId()).orElse(null);
        if (experiment == null) {
            return;
        }
        if (experiment.status().equals(ExperimentStatus.CANCELLED.apiName())) {
            repository.cancelCell(cellId, System.currentTimeMillis());
            onChange.run();
            return;
        }
        RunningCells.Cell running = runningCells.enter(cellId, cell.experimentId());
        try {
            if (!repository.start(cellId, instance, System.currentTimeMillis())) {
                return;
            }
            repository.refreshStatus(cell.experimentId(), System.currentTimeMillis());
            onChange.run();
            execute(cell, experiment, running);
        } finally {
            runningCells.leave(running);
        }
    }

    private void execute(CellRow cell, ExperimentRow experiment, RunningCells.Cell running) {
        String cellId = cell.id();
        try {
            ExperimentKind kind = kinds.find(experiment.kind())
                    .orElseThrow(() -> new IllegalStateException("unknown experiment kind " + experiment.kind()));
            Map<String, Object> result;
            running.beginWork();
            try {
                result = kind.run(json.read(cell.params()), json.read(experiment.params()));
            } finally {
                running.endWork();
            }
            repository.succeed(cellId, cell.experimentId(), json.write(result), System.currentTimeMillis());
        } catch (RuntimeException | OutOfMemoryError e) {
            if (running.cancelled()) {
                // the experiment was cancelled: whatever the interrupt ended with, the cell is cancelled
                log.info("Experiment {} cell {} stopped: the experiment was cancelled", cell.experimentId(), cell.seq());
                repository.cancelCell(cellId, System.currentTimeMillis());
            } else if (e instanceof GenerationCancelledException && Thread.interrupted()) {
                // shutting down: db-scheduler runs the cell again later, here or elsewhere; the flag is
                // cleared so the database writes that record this still go through
                throw (GenerationCancelledException) e;
            } else {
                if (!(e instanceof GenerationCancelledException)) {
                    log.warn("Experiment {} cell {} failed", cell.experimentId(), cell.seq(), e);
                }
                repository.fail(cellId, describe(e), System.currentTimeMillis());
            }
        } finally {
            repository.refreshStatus(cell.experimentId(), System.currentTimeMillis());
            onChange.run();
        }
    }

    private static String describe(Throwable e) {
        String message = e.getMessage() == null ? "" : ": " + e.getMessage();
        String text = e.getClass().getSimpleName() + message;
        return text.length() > 2000 ? text.substring(0, 2000) : text;
    }
}
