package dev.kvlab.experiment;

import java.util.List;
import java.util.Map;
import org.jfree.chart.JFreeChart;

/**
 * One kind of experiment (DESIGN §5): how a request's parameters become cells, and how one cell runs.
 * Cells are independent, JSON-serializable maps, so any instance can run any cell, in any order,
 * again after a crash.
 */
interface ExperimentKind {

    /** The request name, e.g. {@code perplexity}. */
    String name();

    /**
     * Validates the kind's parameters (400 naming the field at fault) and expands them into cells.
     *
     * @param policies the request's {@code policies}, already checked to be a non-empty list of objects
     */
    List<Map<String, Object>> plan(ExperimentParams params, List<Map<String, Object>> policies);

    /**
     * Runs one cell on the shared model and returns its figures (snake_case keys).
     *
     * @param params the experiment's resolved parameters (shared by its cells, e.g. a supplied text)
     * @throws RuntimeException recorded as the cell's error; the experiment goes on
     */
    Map<String, Object> run(Map<String, Object> cell, Map<String, Object> params);

    /**
     * The report's charts of an experiment's succeeded rows (cell params + result + the {@code policy}
     * label; never empty), by title. Each kind draws its own, so a kind without charts says so here
     * by returning none.
     */
    Map<String, JFreeChart> charts(List<Map<String, Object>> rows);

    /** HTML the report shows after the charts, from the succeeded rows (possibly none); none by default. */
    default String reportSection(List<Map<String, Object>> rows) {
        return "";
    }

    /** Adds figures that compare cells (e.g. change vs {@code full}); rows are cell params + result. */
    default List<Map<String, Object>> summarize(List<Map<String, Object>> rows) {
        return rows;
    }
}
