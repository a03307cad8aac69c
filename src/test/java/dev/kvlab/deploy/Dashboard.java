package dev.kvlab.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The shipped Grafana dashboard (the one copy, used by both compose and the Helm chart) and its PromQL. */
final class Dashboard {

    static final Path FILE = Path.of("helm/kvlab/dashboards/kvlab.json");

    /** The metric names of DESIGN §6, as Prometheus shows them (histograms by their base name). */
    static final Set<String> DESIGN_METRICS = Set.of("kvlab_kv_cache_bytes", "kvlab_kv_cache_tokens",
            "kvlab_kv_cache_full_bytes", "kvlab_device_memory_used_bytes", "kvlab_device_memory_total_bytes",
            "kvlab_memory_budget_bytes", "kvlab_oom_events_total", "kvlab_cache_evictions_total",
            "kvlab_cache_merges_total", "kvlab_prompt_tokens_total", "kvlab_generated_tokens_total",
            "kvlab_requests_running", "kvlab_requests_waiting", "kvlab_time_to_first_token_seconds",
            "kvlab_inter_token_latency_seconds", "kvlab_request_duration_seconds", "kvlab_experiments");

    /** The continuous-batching scheduler's metrics, which operators read beside the queue. */
    static final Set<String> SCHEDULER_METRICS = Set.of("kvlab_batch_size", "kvlab_batch_tokens",
            "kvlab_scheduler_steps_total", "kvlab_scheduler_step_seconds");

    private Dashboard() {}

    static JsonNode json() {
        try {
            return JsonMapper.builder().build().readTree(Files.readString(FILE));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every panel target's {@code expr}, rows' nested panels included. */
    static List<String> panelExpressions() {
        List<String> exprs = new ArrayList<>();
        collect(json().path("panels"), exprs);
        return exprs;
    }

    private static void collect(JsonNode panels, List<String> exprs) {
        for (JsonNode panel : panels) {
            for (JsonNode target : panel.path("targets")) {
                if (target.has("expr")) {
                    exprs.add(target.path("expr").asString());
                }
            }
            collect(panel.path("panels"), exprs);
        }
    }

    /** The queries of the dashboard's query variables. */
    static List<String> variableQueries() {
        List<String> queries = new ArrayList<>();
        for (JsonNode variable : json().path("templating").path("list")) {
            if (variable.path("type").asString().equals("query")) {
                JsonNode query = variable.path("query");
                queries.add(query.isObject() ? query.path("query").asString() : query.asString());
            }
        }
        return queries;
    }

    /** All metric names the dashboard reads, sorted. */
    static Set<String> metricNames() {
        Set<String> names = new TreeSet<>();
        panelExpressions().forEach(e -> names.addAll(PromQl.metricNames(e)));
        variableQueries().forEach(q -> names.addAll(PromQl.variableQueryMetricNames(q)));
        return names;
    }

    /** A series name as its family: {@code x_bucket}, {@code x_sum}, {@code x_count} → {@code x}. */
    static String family(String name) {
        return name.replaceFirst("_(bucket|sum|count)$", "");
    }
}
