package dev.kvlab.experiment;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jfree.chart.JFreeChart;
import org.junit.jupiter.api.Test;

/**
 * Every registered kind draws its own report charts from a finished experiment's rows, so a new kind
 * cannot silently get an empty report: it needs rows here, and charts (or a place in
 * {@link #WITHOUT_CHARTS}, saying it has nothing to plot).
 */
class ExperimentKindChartsTest {

    /** Kinds that declare they have nothing to plot. */
    private static final Set<String> WITHOUT_CHARTS = Set.of();

    private static final ExperimentKinds KINDS = ExperimentKinds.of(null, 4096);

    @Test
    void everyKindDrawsAtLeastOneChartOfAFinishedExperiment() {
        Map<String, List<Map<String, Object>>> finished = finishedRows();
        assertThat(finished.keySet()).as("rows of a finished experiment for every registered kind")
                .containsExactlyInAnyOrderElementsOf(KINDS.names());
        for (String name : KINDS.names()) {
            ExperimentKind kind = KINDS.find(name).orElseThrow();
            Map<String, JFreeChart> charts = ReportCharts.charts(kind, finished.get(name));
            if (WITHOUT_CHARTS.contains(name)) {
                assertThat(charts).as(name).isEmpty();
                continue;
            }
            assertThat(charts).as(name).isNotEmpty();
            charts.forEach((title, chart) -> {
                BufferedImage image = chart.createBufferedImage(300, 200);
                assertThat(image.getWidth()).as(name + ": " + title).isEqualTo(300);
            });
        }
    }

    @Test
    void noRowsNoCharts() {
        for (String name : KINDS.names()) {
            assertThat(ReportCharts.charts(KINDS.find(name).orElseThrow(), List.of())).as(name).isEmpty();
        }
    }

    /** Rows as the API shows them: the {@code policy} label, the cell's params and its result. */
    private static Map<String, List<Map<String, Object>>> finishedRows() {
        Map<String, List<Map<String, Object>>> rows = new LinkedHashMap<>();
        rows.put("oom-sweep", List.of(
                row("full", Map.of("policy", "full"), Map.of("max_length", 64, "max_sequence_length", 34,
                        "max_tokens_before_oom", 48, "predicted_max_tokens", 40)),
                row("h2o/8", Map.of("policy", "h2o", "budget", 8), Map.of("max_length", 64,
                        "max_sequence_length", 66))));
        rows.put("memory-growth", List.of(row("full", Map.of("policy", "full"), Map.of("samples", List.of(
                Map.of("generated_tokens", 4, "kv_bytes", 2048), Map.of("generated_tokens", 8, "kv_bytes", 4096))))));
        rows.put("perplexity", List.of(
                row("full", Map.of("policy", "full"), Map.of("tokens", 64, "perplexity", 20.0)),
                row("h2o/16", Map.of("policy", "h2o", "budget", 16), Map.of("tokens", 64, "perplexity", 24.0))));
        List<Map<String, Object>> passKey = new ArrayList<>();
        for (double depth : new double[] {0.0, 1.0}) {
            passKey.add(row("full", Map.of("policy", "full"), Map.of("context_length", 256, "depth", depth,
                    "accuracy", 1.0)));
        }
        rows.put("passkey", passKey);
        rows.put("throughput", List.of(row("full", Map.of("policy", "full"), Map.of("context_length", 64,
                "concurrency", 1, "prefill_tokens_per_second", 900.0, "decode_tokens_per_second", 80.0,
                "aggregate_decode_tokens_per_second", 80.0))));
        rows.put("compression-sweep", List.of(
                row("full", Map.of("policy", "full"), Map.of("task", "perplexity", "compression_ratio", 0.0,
                        "score", 20.0)),
                row("h2o/0.5", Map.of("policy", "h2o", "budget_ratio", 0.5), Map.of("task", "perplexity",
                        "compression_ratio", 0.5, "score", 22.0))));
        return rows;
    }

    private static Map<String, Object> row(String policy, Map<String, Object> kvCache, Map<String, Object> figures) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("status", "succeeded");
        row.put("policy", policy);
        row.put("kv_cache", kvCache);
        row.putAll(figures);
        return row;
    }
}
