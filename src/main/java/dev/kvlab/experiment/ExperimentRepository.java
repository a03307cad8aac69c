package dev.kvlab.experiment;

import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;
import org.springframework.transaction.annotation.Transactional;

/**
 * Experiments, cells and results in the database (schema {@code db/migration/V1__experiments.sql}).
 * Params and results are stored as JSON text; the service (de)serializes them. Every write that a
 * second instance could race on is a single conditional statement, so two replicas on one
 * PostgreSQL cannot both record a cell.
 */
@Repository
class ExperimentRepository {

    /** One row of {@code experiment}. */
    record ExperimentRow(String id, String kind, String name, String params, String status, int totalCells,
            long createdAt, Long finishedAt) {}

    /** One row of {@code cell}, with its result when it has one. */
    record CellRow(String id, String experimentId, int seq, String params, String status, String error,
            int attempts, Long startedAt, Long finishedAt, String ranBy, String result) {}

    /**
     * How an experiment's cells stand, counted in the database for the list.
     *
     * @param timed finished, not cancelled cells with both times; {@code timedMillis} their summed run time
     */
    record CellCounts(int total, int done, int failed, int timed, long timedMillis) {}

    /** An experiment with its cell counts: one item of the list. */
    record ExperimentSummary(ExperimentRow experiment, CellCounts cells) {}

    private static final String CELL_COLUMNS = "c.id, c.experiment_id, c.seq, c.params, c.status, c.error, c.attempts,"
            + " c.started_at, c.finished_at, c.ran_by, r.result";

    private final JdbcClient jdbc;

    ExperimentRepository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    @Transactional
    void insert(ExperimentRow experiment, List<CellRow> cells) {
        jdbc.sql("insert into experiment (id, kind, name, params, status, total_cells, created_at)"
                        + " values (?, ?, ?, ?, ?, ?, ?)")
                .params(experiment.id(), experiment.kind(), experiment.name(), experiment.params(),
                        experiment.status(), experiment.totalCells(), experiment.createdAt())
                .update();
        for (CellRow cell : cells) {
            jdbc.sql("insert into cell (id, experiment_id, seq, params, status, attempts) values (?, ?, ?, ?, ?, 0)")
                    .params(cell.id(), cell.experimentId(), cell.seq(), cell.params(), cell.status())
                    .update();
        }
    }

    Optional<ExperimentRow> find(String id) {
        return jdbc.sql("select id, kind, name, params, status, total_cells, created_at, finished_at"
                        + " from experiment where id = ?")
                .param(id)
                .query(ExperimentRow.class)
                .optional();
    }

    /**
     * A page of experiments, newest first, with their cells counted: one statement whatever the page
     * size (the page is chosen in a subquery, then joined to its cells and aggregated).
     */
    List<ExperimentSummary> page(int page, int size) {
        String timed = "c.status <> 'cancelled' and c.started_at is not null and c.finished_at is not null";
        return jdbc.sql("select e.id, e.kind, e.name, e.params, e.status, e.total_cells, e.created_at, e.finished_at,"
                        + " count(c.id) as cells,"
                        + " coalesce(sum(case when c.status in ('succeeded', 'failed', 'cancelled') then 1 else 0 end), 0) as done,"
                        + " coalesce(sum(case when c.status = 'failed' then 1 else 0 end), 0) as failed,"
                        + " coalesce(sum(case when " + timed + " then 1 else 0 end), 0) as timed,"
                        + " coalesce(sum(case when " + timed + " then c.finished_at - c.started_at else 0 end), 0) as timed_millis"
                        + " from (select id, kind, name, params, status, total_cells, created_at, finished_at from experiment"
                        + " order by created_at desc, id limit ? offset ?) e"
                        + " left join cell c on c.experiment_id = e.id"
                        + " group by e.id, e.kind, e.name, e.params, e.status, e.total_cells, e.created_at, e.finished_at"
                        + " order by e.created_at desc, e.id")
                .params(size, (long) page * size)
                .query((rs, i) -> new ExperimentSummary(
                        new ExperimentRow(rs.getString("id"), rs.getString("kind"), rs.getString("name"),
                                rs.getString("params"), rs.getString("status"), rs.getInt("total_cells"),
                                rs.getLong("created_at"), (Long) rs.getObject("finished_at", Long.class)),
                        new CellCounts(rs.getInt("cells"), rs.getInt("done"), rs.getInt("failed"), rs.getInt("timed"),
                                rs.getLong("timed_millis"))))
                .list();
    }

    long count() {
        return jdbc.sql("select count(*) from experiment").query(Long.class).single();
    }

    List<CellRow> cells(String experimentId) {
        return jdbc.sql("select " + CELL_COLUMNS + " from cell c left join result r on r.cell_id = c.id"
                        + " where c.experiment_id = ? order by c.seq")
                .param(experimentId)
                .query(CellRow.class)
                .list();
    }

    Optional<CellRow> cell(String cellId) {
        return jdbc.sql("select " + CELL_COLUMNS + " from cell c left join result r on r.cell_id = c.id where c.id = ?")
                .param(cellId)
                .query(CellRow.class)
                .optional();
    }

    /** Cells not yet finished, of experiments not cancelled: what must be (re)scheduled. */
    List<String> unfinishedCellIds() {
        return jdbc.sql("select c.id from cell c join experiment e on e.id = c.experiment_id"
                        + " where c.status in ('queued', 'running') and e.status <> 'cancelled'")
                .query(String.class)
                .list();
    }

    /**
     * Marks a cell running on {@code instance}; false when it is already finished (a late duplicate
     * execution).
     */
    boolean start(String cellId, String instance, long now) {
        return jdbc.sql("update cell set status = 'running', started_at = ?, attempts = attempts + 1, ran_by = ?"
                        + " where id = ? and status in ('queued', 'running')")
                .params(now, instance, cellId)
                .update() == 1;
    }

    /** Stores a cell's result once; false when another execution stored it first. */
    @Transactional
    boolean succeed(String cellId, String experimentId, String resultJson, long now) {
        try {
            jdbc.sql("insert into result (cell_id, experiment_id, result, created_at) values (?, ?, ?, ?)")
                    .params(cellId, experimentId, resultJson, now)
                    .update();
        } catch (DuplicateKeyException e) {
            return false;
        }
        jdbc.sql("update cell set status = 'succeeded', error = null, finished_at = ? where id = ?")
                .params(now, cellId)
                .update();
        return true;
    }

    void fail(String cellId, String error, long now) {
        jdbc.sql("update cell set status = 'failed', error = ?, finished_at = ? where id = ? and status <> 'succeeded'")
                .params(error, now, cellId)
                .update();
    }

    /** Cancels the experiment and its unfinished cells; false when it had already finished. */
    @Transactional
    boolean cancel(String experimentId, long now) {
        int changed = jdbc.sql("update experiment set status = 'cancelled', finished_at = ?"
                        + " where id = ? and status in ('queued', 'running')")
                .params(now, experimentId)
                .update();
        jdbc.sql("update cell set status = 'cancelled', finished_at = ? where experiment_id = ? and status = 'queued'")
                .params(now, experimentId)
                .update();
        return changed == 1;
    }

    /** Those of {@code experimentIds} that are cancelled. */
    List<String> cancelledAmong(Collection<String> experimentIds) {
        return jdbc.sql("select id from experiment where status = 'cancelled' and id in (:ids)")
                .param("ids", experimentIds)
                .query(String.class)
                .list();
    }

    void cancelCell(String cellId, long now) {
        jdbc.sql("update cell set status = 'cancelled', finished_at = ? where id = ? and status in ('queued', 'running')")
                .params(now, cellId)
                .update();
    }

    /**
     * Recomputes an experiment's status from its cells (cancelled stays cancelled). The experiment
     * row is locked first: without it, two replicas finishing the last two cells at once could each
     * count the other's cell as running, and the later (stale) update would leave the experiment
     * "running" forever. With the lock the refreshes serialize, and each count runs after the
     * previous refresh committed (PostgreSQL READ COMMITTED takes a new snapshot per statement).
     */
    @Transactional
    void refreshStatus(String experimentId, long now) {
        jdbc.sql("select id from experiment where id = ? for update").param(experimentId).query().listOfRows();
        Map<ExperimentStatus, Integer> counts = new EnumMap<>(ExperimentStatus.class);
        jdbc.sql("select status, count(*) from cell where experiment_id = ? group by status")
                .param(experimentId)
                .query((rs, i) -> counts.put(ExperimentStatus.of(rs.getString(1)), rs.getInt(2)))
                .list();
        ExperimentStatus status = statusOf(counts);
        jdbc.sql("update experiment set status = ?, finished_at = ? where id = ? and status <> 'cancelled'")
                .params(status.apiName(), status.isFinished() ? now : null, experimentId)
                .update();
    }

    /**
     * An experiment is queued until a cell starts, running while any cell is unfinished, then
     * succeeded unless every cell failed (a failed cell records its error and the others go on).
     */
    static ExperimentStatus statusOf(Map<ExperimentStatus, Integer> cellCounts) {
        int queued = cellCounts.getOrDefault(ExperimentStatus.QUEUED, 0);
        int running = cellCounts.getOrDefault(ExperimentStatus.RUNNING, 0);
        int succeeded = cellCounts.getOrDefault(ExperimentStatus.SUCCEEDED, 0);
        int failed = cellCounts.getOrDefault(ExperimentStatus.FAILED, 0);
        int cancelled = cellCounts.getOrDefault(ExperimentStatus.CANCELLED, 0);
        if (running == 0 && succeeded + failed + cancelled == 0) {
            return ExperimentStatus.QUEUED;
        }
        if (queued + running > 0) {
            return ExperimentStatus.RUNNING;
        }
        if (succeeded == 0 && failed > 0) {
            return ExperimentStatus.FAILED;
        }
        return succeeded == 0 && cancelled > 0 ? ExperimentStatus.CANCELLED : ExperimentStatus.SUCCEEDED;
    }

    /** Experiments per status, for {@code kvlab_experiments{status}}. */
    Map<ExperimentStatus, Long> countsByStatus() {
        Map<ExperimentStatus, Long> counts = new EnumMap<>(ExperimentStatus.class);
        for (ExperimentStatus s : ExperimentStatus.values()) {
            counts.put(s, 0L);
        }
        jdbc.sql("select status, count(*) from experiment group by status")
                .query((rs, i) -> counts.put(ExperimentStatus.of(rs.getString(1)), rs.getLong(2)))
                .list();
        return counts;
    }
}
