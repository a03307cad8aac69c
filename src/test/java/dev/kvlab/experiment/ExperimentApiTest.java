package dev.kvlab.experiment;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kvlab.testing.TinyModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

/**
 * {@code /experiments} end to end on a tiny random Llama: validation, each kind with tiny sizes,
 * results as JSON, CSV, SSE and an HTML report, cancellation (of queued and of running cells), the
 * list's statement count and the {@code kvlab_experiments} gauge.
 */
@Import(StatementLog.class)
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"kvlab.device=cpu", "kvlab.prefill.chunk=8", "kvlab.experiments.max-cells=12",
                "kvlab.experiments.max-length=4096", "kvlab.experiments.poll-interval=100ms"})
class ExperimentApiTest {

    static final Path MODEL_DIR = tinyModel();

    @DynamicPropertySource
    static void model(DynamicPropertyRegistry registry) {
        registry.add("kvlab.model.path", MODEL_DIR::toString);
    }

    static Path tinyModel() {
        try {
            Path dir = Files.createTempDirectory("kvlab-experiment-test").resolve("tiny-llama");
            TinyModels.llama().writeTo(dir);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @LocalServerPort
    int port;

    ExperimentClient http;

    @Autowired
    ExperimentService service;

    @Autowired
    ExperimentRepository repository;

    @Autowired
    JdbcClient jdbc;

    @BeforeEach
    void client() {
        http = new ExperimentClient(port);
    }

    private void assertBadRequest(String body, String field) {
        HttpResponse<String> r = http.post(body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
        JsonNode problem = ExperimentClient.JSON.readTree(r.body());
        if (field == null) {
            assertThat(problem.path("field").isMissingNode()).as(r.body()).isTrue();
        } else {
            assertThat(problem.path("field").asString()).as(r.body()).isEqualTo(field);
        }
    }

    @Test
    void badRequestsAreProblemsNamingTheField() {
        assertBadRequest("{\"kind\": \"nope\", \"policies\": [{\"policy\": \"full\"}]}", "kind");
        assertBadRequest("{\"policies\": [{\"policy\": \"full\"}]}", "kind");
        assertBadRequest("{\"kind\": \"perplexity\", \"policies\": []}", "policies");
        assertBadRequest("{\"kind\": \"perplexity\"}", "policies");
        assertBadRequest("{\"kind\": \"perplexity\", \"policies\": [{\"policy\": \"full\"}], \"tokens\": 1}", "tokens");
        assertBadRequest("{\"kind\": \"throughput\", \"policies\": [{\"policy\": \"full\"}], \"context_lengths\": [8, 99999]}",
                "context_lengths[1]");
        assertBadRequest("{\"kind\": \"oom-sweep\", \"policies\": [{\"policy\": \"full\"}], \"start_length\": 64, "
                + "\"max_length\": 32}", "max_length");
        assertBadRequest("{\"kind\": \"perplexity\", \"policies\": [{\"policy\": \"h2o\", \"budget\": 4, \"recent\": 4}]}",
                "policies[0].budget");
        assertBadRequest("{\"kind\": \"perplexity\", \"policies\": [{\"policy\": \"streaming\"}], \"budgets\": [4, 3]}",
                "budgets[0]");
        assertBadRequest("{\"kind\": \"perplexity\", \"policies\": [{\"policy\": \"lru\", \"budget\": 8}]}",
                "policies[0].policy");
        assertBadRequest("{\"kind\": \"perplexity\", \"policies\": [{\"policy\": \"full\"}], \"tokenz\": 8}", "tokenz");
        // (full + streaming × 2 budgets) × 2 lengths × 3 depths = 18 cells > max-cells 12
        assertBadRequest("{\"kind\": \"passkey\", \"policies\": [{\"policy\": \"full\"}, {\"policy\": \"streaming\"}],"
                + " \"budgets\": [16, 32], \"context_lengths\": [64, 128], \"depths\": [0, 0.5, 1]}", null);
        assertThat(http.get("/experiments/no-such-id").statusCode()).isEqualTo(404);
        String sweep = "{\"kind\": \"compression-sweep\", \"policies\": [{\"policy\": \"h2o\"}], \"ratios\": [0.5]";
        assertBadRequest(sweep.replace("[0.5]", "[1.0]") + "}", "ratios[0]");
        assertBadRequest(sweep.replace("\"h2o\"}", "\"h2o\", \"budget\": 8}") + "}", "policies[0].budget");
        assertBadRequest(sweep + ", \"tasks\": [\"ruler\"]}", "tasks[0]");
        assertBadRequest(sweep + ", \"filler\": \"text\"}", "filler_text");
        assertBadRequest(sweep + ", \"filler\": \"lorem\"}", "filler");
    }

    @Test
    void perplexityRunsEveryCellAndReportsChangeVsFull() {
        String path = http.create("{\"kind\": \"perplexity\", \"name\": \"ppl\", \"tokens\": 24,"
                + " \"policies\": [{\"policy\": \"streaming\", \"sinks\": 2}, {\"policy\": \"h2o\"}], \"budgets\": [8, 12]}");
        assertThat(path).startsWith("/experiments/");
        JsonNode e = http.awaitFinished(path, Duration.ofMinutes(2));

        assertThat(e.path("status").asString()).isEqualTo("succeeded");
        assertThat(e.path("progress").path("done").asInt()).isEqualTo(5); // full + 2 policies × 2 budgets
        assertThat(e.path("progress").path("total").asInt()).isEqualTo(5);
        assertThat(e.path("progress").path("percent").asDouble()).isEqualTo(100.0);
        JsonNode results = e.path("results");
        assertThat(results).hasSize(5);
        assertThat(results.get(0).path("policy").asString()).isEqualTo("full");
        assertThat(results.get(0).path("ppl_change_vs_full").asDouble()).isZero();
        for (JsonNode row : results) {
            assertThat(row.path("status").asString()).isEqualTo("succeeded");
            assertThat(row.path("perplexity").asDouble()).isGreaterThan(1.0);
            assertThat(row.path("predicted_tokens").asInt()).isEqualTo(23);
            assertThat(row.has("ppl_change_vs_full")).isTrue();
        }
        JsonNode h2o8 = results.get(3);
        assertThat(h2o8.path("policy").asString()).isEqualTo("h2o/8");
        assertThat(h2o8.path("peak_bytes").asLong()).isLessThan(results.get(0).path("peak_bytes").asLong());

        String csv = http.get(path + "/results.csv").body();
        List<String> lines = csv.lines().toList();
        assertThat(lines).hasSize(6);
        assertThat(lines.get(0)).contains("policy", "kv_cache.budget", "perplexity", "ppl_change_vs_full");
        assertThat(lines.get(4)).contains("h2o/8");

        HttpResponse<String> report = http.get(path + "/report");
        assertThat(report.headers().firstValue("Content-Type").orElse("")).startsWith("text/html");
        assertThat(report.body()).contains("Perplexity against budget", "data:image/png;base64,", "h2o/12");

        List<String[]> events = http.events(path + "/events");
        assertThat(events).isNotEmpty();
        assertThat(events.get(events.size() - 1)[0]).isEqualTo("done");
        assertThat(events.get(0)[1]).contains("\"percent\"", "\"eta_seconds\"");

        JsonNode list = http.json("/experiments?page=0&size=50");
        assertThat(list.path("total").asLong()).isGreaterThanOrEqualTo(1);
        assertThat(list.path("items").toString()).contains(path.substring("/experiments/".length()));
        String scrape = http.get("/actuator/prometheus").body();
        assertThat(scrape).containsPattern("kvlab_experiments\\{[^}]*status=\"succeeded\"[^}]*} [1-9]");
    }

    @Test
    void memoryGrowthSamplesKvBytesAgainstGeneratedTokens() {
        String path = http.create("{\"kind\": \"memory-growth\", \"max_new_tokens\": 12, \"every\": 4,"
                + " \"policies\": [{\"policy\": \"full\"}, {\"policy\": \"streaming\", \"budget\": 8, \"sinks\": 2}]}");
        JsonNode e = http.awaitFinished(path, Duration.ofMinutes(2));
        assertThat(e.path("status").asString()).isEqualTo("succeeded");
        JsonNode full = e.path("results").get(0).path("samples");
        JsonNode streaming = e.path("results").get(1).path("samples");
        assertThat(full).hasSize(3);
        assertThat(full.get(2).path("generated_tokens").asInt()).isEqualTo(12);
        // full grows by one token per step; streaming stays at its budget
        assertThat(full.get(2).path("kv_bytes").asLong()).isGreaterThan(full.get(0).path("kv_bytes").asLong());
        assertThat(streaming.get(2).path("kv_bytes").asLong()).isEqualTo(streaming.get(1).path("kv_bytes").asLong());
        assertThat(streaming.get(2).path("stored_tokens").asInt()).isLessThanOrEqualTo(8);
        assertThat(http.get(path + "/results.csv").body().lines()).hasSize(1 + 6);
        assertThat(http.get(path + "/report").body()).contains("KV cache memory against generated tokens");
    }

    @Test
    void oomSweepFindsTheBudgetThresholdOfAFullCacheButNotOfABoundedOne() {
        // weights + room for 40 tokens of full cache and their attention scores: full fails past 40, streaming never
        JsonNode model = http.json("/model");
        long kvPerToken = model.path("kv_bytes_per_token").asLong();
        assertThat(kvPerToken).isPositive();
        String path = http.create("{\"kind\": \"oom-sweep\", \"start_length\": 8, \"max_length\": 64, \"decode_tokens\": 2,"
                + " \"policies\": [{\"policy\": \"full\"}, {\"policy\": \"streaming\", \"budget\": 8, \"sinks\": 2}],"
                + " \"memory_limit_bytes\": 1}");
        // a 1-byte budget cannot even hold the weights: both policies run out at the first length
        JsonNode tiny = http.awaitFinished(path, Duration.ofMinutes(2));
        assertThat(tiny.path("results").get(0).path("oom").asBoolean()).isTrue();
        assertThat(tiny.path("results").get(0).path("max_sequence_length").asInt()).isZero();
        JsonNode figures = tiny.path("results").get(0);
        assertMeasuredActivationAllowance(figures);
        long weights = figures.path("weights_bytes").asLong();
        long perToken = kvPerToken + figures.path("activation_bytes_per_key").asLong();
        long limit = weights + figures.path("activation_fixed_bytes").asLong() + 40 * perToken;
        path = http.create("{\"kind\": \"oom-sweep\", \"start_length\": 8, \"max_length\": 64, \"decode_tokens\": 2,"
                + " \"policies\": [{\"policy\": \"full\"}, {\"policy\": \"streaming\", \"budget\": 8, \"sinks\": 2}],"
                + " \"memory_limit_bytes\": " + limit + "}");
        JsonNode e = http.awaitFinished(path, Duration.ofMinutes(2));
        JsonNode full = e.path("results").get(0);
        JsonNode streaming = e.path("results").get(1);
        assertThat(full.path("oom").asBoolean()).isTrue();
        assertThat(full.path("oom_source").asString()).isEqualTo("budget");
        assertThat(full.path("max_sequence_length").asInt()).isEqualTo(32 + 2);
        assertThat(full.path("predicted_max_tokens").asLong()).isEqualTo(40);
        assertThat(full.path("max_tokens_before_oom").asLong()).isEqualTo(48); // the first chunk past 40
        assertThat(full.path("kv_bytes_at_limit").asLong()).isEqualTo(48 * kvPerToken);
        assertThat(streaming.path("oom").asBoolean()).isFalse();
        assertThat(streaming.path("max_sequence_length").asInt()).isEqualTo(64 + 2);
        assertThat(streaming.path("predicted_max_tokens").isNull()).isTrue();
        assertThat(http.get(path + "/report").body()).contains("OOM threshold per policy");
    }

    /**
     * On Linux the activation allowance is probed (native memory a prefill chunk takes at two key
     * counts, both readings reported). When the fit is plausible it is used: positive and within a
     * sane factor of the computed shape formula. The test fixture's activations are a few KB, so
     * other threads of the process (JIT compilation, the scheduler) can outweigh them, and then the
     * probe must fall back to the formula and say why, never use a nonsensical fit.
     */
    private static void assertMeasuredActivationAllowance(JsonNode figures) {
        assertThat(figures.path("activation_computed_bytes_per_key").asLong()).isPositive();
        if (!Files.isWritable(Path.of("/proc/self/clear_refs"))) {
            assertThat(figures.path("activation_source").asString()).isEqualTo("computed");
            return;
        }
        assertThat(figures.path("activation_probe")).as(figures.toString()).hasSize(2);
        if (figures.path("activation_source").asString().equals("computed")) {
            assertThat(figures.path("activation_note").asString()).as(figures.toString()).contains("not plausible");
            assertThat(figures.path("activation_bytes_per_key").asLong())
                    .isEqualTo(figures.path("activation_computed_bytes_per_key").asLong());
            return;
        }
        assertThat(figures.path("activation_source").asString()).as(figures.toString()).isEqualTo("measured");
        long fixed = figures.path("activation_measured_fixed_bytes").asLong();
        long perKey = figures.path("activation_measured_bytes_per_key").asLong();
        assertThat(fixed).as(figures.toString()).isPositive();
        assertThat(perKey).as(figures.toString()).isPositive();
        assertThat(figures.path("activation_fixed_bytes").asLong()).isEqualTo(fixed);
        assertThat(figures.path("activation_bytes_per_key").asLong()).isEqualTo(perKey);
        assertThat(figures.path("activation_probe")).hasSize(2);
        long keys = 2048;
        double measured = fixed + perKey * keys;
        double computed = figures.path("activation_computed_fixed_bytes").asLong()
                + figures.path("activation_computed_bytes_per_key").asLong() * keys;
        assertThat(measured / computed).as(figures.toString()).isBetween(0.5, 50.0);
    }

    @Test
    void passKeyAndThroughputProduceTheirFigures() {
        String passkey = http.create("{\"kind\": \"passkey\", \"context_lengths\": [48], \"depths\": [0, 1],"
                + " \"trials\": 2, \"policies\": [{\"policy\": \"full\"}]}");
        String throughput = http.create("{\"kind\": \"throughput\", \"context_lengths\": [8, 16], \"decode_tokens\": 3,"
                + " \"policies\": [{\"policy\": \"full\"}, {\"policy\": \"tova\", \"budget\": 8}]}");
        JsonNode p = http.awaitFinished(passkey, Duration.ofMinutes(2));
        assertThat(p.path("results")).hasSize(2);
        for (JsonNode row : p.path("results")) {
            assertThat(row.path("accuracy").asDouble()).isBetween(0.0, 1.0);
            assertThat(row.path("answers")).hasSize(2);
            assertThat(row.path("answers").get(0).path("expected").asString()).hasSize(5);
        }
        assertThat(http.get(passkey + "/report").body()).contains("Pass-key accuracy grid", "48 @ 1.00");

        JsonNode t = http.awaitFinished(throughput, Duration.ofMinutes(2));
        assertThat(t.path("results")).hasSize(4);
        for (JsonNode row : t.path("results")) {
            assertThat(row.path("prefill_tokens_per_second").asDouble()).isPositive();
            assertThat(row.path("decode_tokens_per_second").asDouble()).isPositive();
        }
        assertThat(http.get(throughput + "/report").body()).contains("Decode throughput against context");
    }

    @Test
    void cancellingStopsQueuedCells() {
        String path = http.create("{\"kind\": \"throughput\", \"context_lengths\": [1024, 1024, 1024, 1024, 1024],"
                + " \"decode_tokens\": 16, \"policies\": [{\"policy\": \"full\"}, {\"policy\": \"h2o\", \"budget\": 16}]}");
        HttpResponse<String> r = http.delete(path);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(ExperimentClient.JSON.readTree(r.body()).path("status").asString()).isEqualTo("cancelled");
        ExperimentClient.sleep(500);
        JsonNode e = http.json(path);
        assertThat(e.path("status").asString()).isEqualTo("cancelled");
        long ran = 0;
        for (JsonNode row : e.path("results")) {
            ran += row.path("status").asString().equals("succeeded") ? 1 : 0;
        }
        assertThat(ran).isLessThanOrEqualTo(1); // at most the cell already running
        assertThat(http.delete("/experiments/nope").statusCode()).isEqualTo(404);
    }

    @Test
    void cancellingStopsTheRunningCellPromptlyAndKeepsTheFinishedOnes() {
        // cell 0 is short; cell 1 (30 documents of 4096 tokens) would run for minutes
        String path = http.create("{\"kind\": \"passkey\", \"context_lengths\": [32, 4096], \"depths\": [0],"
                + " \"trials\": 30, \"policies\": [{\"policy\": \"full\"}]}");
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        JsonNode e = http.json(path);
        while (!cellStatus(e, 1).equals("running") && System.nanoTime() < deadline) {
            ExperimentClient.sleep(20);
            e = http.json(path);
        }
        assertThat(cellStatus(e, 0)).as(e.toString()).isEqualTo("succeeded");
        assertThat(cellStatus(e, 1)).as(e.toString()).isEqualTo("running");
        ExperimentClient.sleep(500); // well inside the long cell's forward passes

        long cancelledAt = System.nanoTime();
        assertThat(http.delete(path).statusCode()).isEqualTo(200);
        while (cellStatus(e, 1).equals("running") && System.nanoTime() - cancelledAt < Duration.ofSeconds(10).toNanos()) {
            ExperimentClient.sleep(20);
            e = http.json(path);
        }
        double seconds = (System.nanoTime() - cancelledAt) / 1e9;
        assertThat(seconds).as("seconds from cancel to the running cell stopping").isLessThan(5);
        assertThat(e.path("status").asString()).isEqualTo("cancelled");
        assertThat(cellStatus(e, 1)).as(e.toString()).isEqualTo("cancelled");
        assertThat(e.path("results").get(1).has("accuracy")).isFalse();
        assertThat(e.path("results").get(1).has("error")).isFalse();
        // the finished cell keeps its result, and the stopped cell's execution is over
        assertThat(cellStatus(e, 0)).isEqualTo("succeeded");
        assertThat(e.path("results").get(0).path("answers")).hasSize(30);
        String id = path.substring("/experiments/".length());
        long executions = jdbc.sql("select count(*) from scheduled_tasks where task_instance in"
                + " (select id from cell where experiment_id = ?)").param(id).query(Long.class).single();
        assertThat(executions).isZero();
        // the cell thread is free again
        String next = http.create("{\"kind\": \"throughput\", \"context_lengths\": [8], \"decode_tokens\": 2,"
                + " \"policies\": [{\"policy\": \"full\"}]}");
        assertThat(http.awaitFinished(next, Duration.ofMinutes(1)).path("status").asString()).isEqualTo("succeeded");
    }

    private static String cellStatus(JsonNode experiment, int cell) {
        return experiment.path("results").path(cell).path("status").asString();
    }

    @Test
    void theListReadsAPageInTwoStatementsWhateverItsSize() {
        // twelve experiments newer than any other, each with a succeeded, a failed and a queued cell
        long at = System.currentTimeMillis() + Duration.ofDays(1).toMillis();
        for (int i = 0; i < 12; i++) {
            String id = UUID.randomUUID().toString();
            repository.insert(new ExperimentRepository.ExperimentRow(id, "throughput", "listed-" + i, "{}",
                    "running", 3, at + i, null), List.of(cell(id, 0, "succeeded"), cell(id, 1, "failed"),
                            cell(id, 2, "queued")));
            for (int seq = 0; seq < 2; seq++) { // 1 s and 0.5 s
                jdbc.sql("update cell set started_at = ?, finished_at = ? where experiment_id = ? and seq = ?")
                        .params(at, at + 1000 - 500 * seq, id, seq).update();
            }
        }
        AtomicReference<Map<String, Object>> page = new AtomicReference<>();
        List<String> ten = StatementLog.record(() -> page.set(service.list(0, 10)));
        List<String> three = StatementLog.record(() -> service.list(0, 3));
        assertThat(ten).as("statements for a page of 10").hasSize(2);
        assertThat(three).as("statements for a page of 3").hasSize(2);

        List<?> items = (List<?>) page.get().get("items");
        assertThat(items).hasSize(10);
        Map<?, ?> newest = (Map<?, ?>) items.get(0);
        assertThat(newest.get("name")).isEqualTo("listed-11");
        // the counted progress is the one the experiment itself shows
        Map<String, Object> alone = service.get((String) newest.get("id")).summary();
        assertThat(newest.get("progress")).isEqualTo(alone.get("progress"));
        assertThat(((Map<?, ?>) newest.get("progress")).get("done")).isEqualTo(2);
        assertThat(((Map<?, ?>) newest.get("progress")).get("failed")).isEqualTo(1);
        assertThat(((Map<?, ?>) newest.get("progress")).get("eta_seconds")).isEqualTo(0.75);
        jdbc.sql("delete from experiment where name like 'listed-%'").update();
    }

    private static ExperimentRepository.CellRow cell(String experimentId, int seq, String status) {
        return new ExperimentRepository.CellRow(UUID.randomUUID().toString(), experimentId, seq,
                "{\"kv_cache\": {\"policy\": \"full\"}, \"context_length\": 8, \"decode_tokens\": 2}", status, null, 0,
                null, null, null, null);
    }

    @Test
    void generateIsAnsweredWhileAnExperimentRuns() {
        String path = http.create("{\"kind\": \"throughput\", \"context_lengths\": [2048, 2048, 2048],"
                + " \"decode_tokens\": 64, \"policies\": [{\"policy\": \"full\"}]}");
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (!http.json(path).path("status").asString().equals("running") && System.nanoTime() < deadline) {
            ExperimentClient.sleep(20);
        }
        HttpResponse<String> r = http.postTo("/generate", "{\"prompt\": \"Hello\", \"max_new_tokens\": 4}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(http.json(path).path("status").asString()).isEqualTo("running");
        http.delete(path);
    }
}
