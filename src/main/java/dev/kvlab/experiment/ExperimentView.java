package dev.kvlab.experiment;

import dev.kvlab.experiment.ExperimentRepository.CellCounts;
import dev.kvlab.experiment.ExperimentRepository.CellRow;
import dev.kvlab.experiment.ExperimentRepository.ExperimentRow;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An experiment as the API shows it: status, progress (done/total, percent, ETA), params and one
 * result row per cell (the cell's parameters, then its figures or its error).
 *
 * @param rows one per cell in order, after the kind's {@link ExperimentKind#summarize}
 */
record ExperimentView(ExperimentRow experiment, Map<String, Object> params, Progress progress,
        List<Map<String, Object>> rows) {

    /**
     * @param done cells finished (succeeded, failed or cancelled)
     * @param etaSeconds the mean time of the finished cells × those left / threads; null before one finishes
     */
    record Progress(int done, int total, int failed, double percent, Double etaSeconds) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("done", done);
            m.put("total", total);
            m.put("failed", failed);
            m.put("percent", percent);
            m.put("eta_seconds", etaSeconds);
            return m;
        }
    }

    static ExperimentView of(ExperimentRow row, List<CellRow> cells, ExperimentKind kind, Json json, int threads) {
        int done = 0;
        int failed = 0;
        int timed = 0;
        long millis = 0;
        List<Map<String, Object>> rows = new ArrayList<>();
        for (CellRow cell : cells) {
            ExperimentStatus status = ExperimentStatus.of(cell.status());
            if (status.isFinished()) {
                done++;
            }
            if (status == ExperimentStatus.FAILED) {
                failed++;
            }
            if (status != ExperimentStatus.CANCELLED && cell.startedAt() != null && cell.finishedAt() != null) {
                timed++;
                millis += cell.finishedAt() - cell.startedAt();
            }
            rows.add(row(cell, status, json));
        }
        Progress progress = progress(row, new CellCounts(cells.size(), done, failed, timed, millis), threads);
        return new ExperimentView(row, json.read(row.params()), progress, kind.summarize(rows));
    }

    /** What the list shows of an experiment whose cells the database counted: {@link #summary()}. */
    static Map<String, Object> summary(ExperimentRow row, CellCounts cells, int threads) {
        return new ExperimentView(row, Map.of(), progress(row, cells, threads), List.of()).summary();
    }

    private static Progress progress(ExperimentRow row, CellCounts cells, int threads) {
        int total = cells.total();
        int done = cells.done();
        boolean active = !ExperimentStatus.of(row.status()).isFinished();
        Double eta = !active ? Double.valueOf(0) : cells.timed() == 0 ? null
                : cells.timedMillis() / 1000.0 / cells.timed() * (total - done) / Math.max(1, threads);
        double percent = total == 0 ? 100 : 100.0 * done / total;
        return new Progress(done, total, cells.failed(), percent, eta);
    }

    private static Map<String, Object> row(CellRow cell, ExperimentStatus status, Json json) {
        Map<String, Object> params = json.read(cell.params());
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("cell", cell.seq());
        r.put("status", status.apiName());
        r.put("policy", PolicyGrid.label(params.get("kv_cache")));
        r.putAll(params);
        if (cell.result() != null) {
            r.putAll(json.read(cell.result()));
        }
        if (cell.error() != null) {
            r.put("error", cell.error());
        }
        if (cell.ranBy() != null) {
            r.put("ran_by", cell.ranBy());
        }
        return r;
    }

    ExperimentStatus status() {
        return ExperimentStatus.of(experiment.status());
    }

    String kind() {
        return experiment.kind();
    }

    /** Without params and results: what the list shows. */
    Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", experiment.id());
        m.put("kind", experiment.kind());
        m.put("name", experiment.name());
        m.put("status", experiment.status());
        m.put("created_at", Instant.ofEpochMilli(experiment.createdAt()).toString());
        m.put("finished_at", experiment.finishedAt() == null ? null : Instant.ofEpochMilli(experiment.finishedAt()).toString());
        m.put("progress", progress.toMap());
        return m;
    }

    /** The whole experiment: summary, params and results. */
    Map<String, Object> toMap() {
        Map<String, Object> m = summary();
        m.put("params", params);
        m.put("results", rows);
        return m;
    }
}
