package dev.kvlab.experiment;

import com.github.kagkarlsson.scheduler.SchedulerClient;
import com.github.kagkarlsson.scheduler.task.helper.OneTimeTask;
import dev.kvlab.config.ExperimentProperties;
import dev.kvlab.experiment.ExperimentRepository.CellRow;
import dev.kvlab.experiment.ExperimentRepository.ExperimentRow;
import dev.kvlab.experiment.ExperimentRepository.ExperimentSummary;
import dev.kvlab.serving.web.ApiException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Creates, reads and cancels experiments. Creating validates the whole request and every cell's
 * policy first (400 naming the field), stores the experiment and its cells, then queues one
 * db-scheduler execution per cell (named by the cell id, so queuing twice is harmless). Status,
 * progress and results are always read back from the database, so every replica answers the same.
 */
public class ExperimentService {

    private static final int MAX_NAME = 200;

    private final ExperimentRepository repository;
    private final ExperimentKinds kinds;
    private final Json json;
    private final SchedulerClient scheduler;
    private final OneTimeTask<Void> cellTask;
    private final ExperimentProperties properties;
    private final ExperimentCounts counts;
    private final RunningCells runningCells;

    ExperimentService(ExperimentRepository repository, ExperimentKinds kinds, Json json, SchedulerClient scheduler,
            OneTimeTask<Void> cellTask, ExperimentProperties properties, ExperimentCounts counts,
            RunningCells runningCells) {
        this.runningCells = runningCells;
        this.repository = repository;
        this.kinds = kinds;
        this.json = json;
        this.scheduler = scheduler;
        this.cellTask = cellTask;
        this.properties = properties;
        this.counts = counts;
    }

    /** @return the new experiment's id */
    String create(Map<String, Object> body) {
        Map<String, Object> rest = new LinkedHashMap<>(body);
        Object kindName = rest.remove("kind");
        if (!(kindName instanceof String k)) {
            throw ApiException.badRequest("kind", "is required, one of " + String.join(", ", kinds.names()));
        }
        ExperimentKind kind = kinds.find(k).orElseThrow(() -> ApiException.badRequest("kind",
                "unknown kind '" + k + "'; known kinds: " + String.join(", ", kinds.names())));
        Object name = rest.remove("name");
        if (name != null && (!(name instanceof String s) || s.length() > MAX_NAME)) {
            throw ApiException.badRequest("name", "must be a string of at most " + MAX_NAME + " characters");
        }
        List<Map<String, Object>> policies = policies(rest.remove("policies"));
        ExperimentParams params = new ExperimentParams(rest);
        List<Map<String, Object>> cells = kind.plan(params, policies);
        if (cells.size() > properties.maxCells()) {
            throw ApiException.badRequest(null, "the experiment has " + cells.size()
                    + " cells (policies × budgets × lengths …); at most " + properties.maxCells()
                    + " are allowed (kvlab.experiments.max-cells)");
        }
        Map<String, Object> stored = new LinkedHashMap<>();
        stored.put("policies", policies);
        stored.putAll(params.resolved());

        String id = UUID.randomUUID().toString();
        long now = System.currentTimeMillis();
        List<CellRow> rows = new ArrayList<>();
        for (int i = 0; i < cells.size(); i++) {
            rows.add(new CellRow(UUID.randomUUID().toString(), id, i, json.write(cells.get(i)),
                    ExperimentStatus.QUEUED.apiName(), null, 0, null, null, null, null));
        }
        repository.insert(new ExperimentRow(id, kind.name(), (String) name, json.write(stored),
                ExperimentStatus.QUEUED.apiName(), cells.size(), now, null), rows);
        Instant at = Instant.ofEpochMilli(now);
        for (CellRow row : rows) {
            // a millisecond apart, so one instance runs the cells in order
            scheduler.scheduleIfNotExists(cellTask.instance(row.id()), at.plusMillis(row.seq()));
        }
        refreshMetrics();
        return id;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> policies(Object value) {
        if (!(value instanceof List<?> list) || list.isEmpty()) {
            throw ApiException.badRequest("policies", "must be a non-empty list of kv_cache objects, e.g. "
                    + "[{\"policy\": \"full\"}, {\"policy\": \"h2o\", \"budget\": 256}]");
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof Map<?, ?> m)) {
                throw ApiException.badRequest("policies[" + i + "]", "must be a kv_cache object");
            }
            out.add(new LinkedHashMap<>((Map<String, Object>) m));
        }
        return out;
    }

    /** Queues again every unfinished cell that has no execution (e.g. the instance died while creating). */
    void requeueUnfinished() {
        Instant now = Instant.now();
        for (String cellId : repository.unfinishedCellIds()) {
            scheduler.scheduleIfNotExists(cellTask.instance(cellId), now);
        }
        refreshMetrics();
    }

    ExperimentView get(String id) {
        ExperimentRow row = repository.find(id)
                .orElseThrow(() -> ApiException.notFound("id", "no experiment '" + id + "'"));
        List<CellRow> cells = repository.cells(id);
        ExperimentKind kind = kinds.find(row.kind()).orElseThrow();
        return ExperimentView.of(row, cells, kind, json, properties.threads());
    }

    /** The experiment's HTML report, with the charts its kind draws. */
    String report(String id) {
        ExperimentView view = get(id);
        return ExperimentReport.html(view, kinds.find(view.kind()).orElseThrow());
    }

    /** A page of experiments, newest first, without their results: two statements (page, total), whatever the size. */
    Map<String, Object> list(int page, int size) {
        if (page < 0) {
            throw ApiException.badRequest("page", "must be >= 0, got " + page);
        }
        if (size < 1 || size > 100) {
            throw ApiException.badRequest("size", "must be in [1, 100], got " + size);
        }
        List<Map<String, Object>> items = new ArrayList<>();
        for (ExperimentSummary s : repository.page(page, size)) {
            items.add(ExperimentView.summary(s.experiment(), s.cells(), properties.threads()));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("page", page);
        out.put("size", size);
        out.put("total", repository.count());
        out.put("items", items);
        return out;
    }

    /**
     * Cancels the experiment: queued cells never run, and a running cell stops after its current forward
     * pass and is recorded as cancelled (here at once; on another replica within
     * {@link RunningCells#CHECK_PERIOD}). Finished cells keep their results. Already finished: unchanged.
     */
    ExperimentView cancel(String id) {
        get(id);
        repository.cancel(id, System.currentTimeMillis());
        runningCells.cancel(id);
        refreshMetrics();
        return get(id);
    }

    private void refreshMetrics() {
        counts.publish();
    }
}
