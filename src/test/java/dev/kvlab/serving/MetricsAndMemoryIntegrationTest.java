package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.EngineException;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The meters of DESIGN §6 as Prometheus scrapes them, device OOM recovery, and {@code GET /capacity}. */
class MetricsAndMemoryIntegrationTest extends ServingIntegrationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** Every name DESIGN §6 lists, as Prometheus shows it. */
    static final List<String> DESIGN_METRICS = List.of(
            "kvlab_kv_cache_bytes{policy=", "kvlab_kv_cache_tokens{policy=", "kvlab_kv_cache_full_bytes{policy=",
            "kvlab_device_memory_used_bytes{device=", "kvlab_device_memory_total_bytes{device=",
            "kvlab_memory_budget_bytes ", "kvlab_oom_events_total{", "kvlab_cache_evictions_total{policy=",
            "kvlab_cache_merges_total{policy=", "kvlab_prompt_tokens_total{policy=",
            "kvlab_generated_tokens_total{policy=", "kvlab_requests_running ", "kvlab_requests_waiting ",
            "kvlab_time_to_first_token_seconds_bucket", "kvlab_inter_token_latency_seconds_bucket",
            "kvlab_request_duration_seconds_bucket", "kvlab_experiments{status=");

    private HttpResponse<String> generate(String body) {
        return HttpFixture.send(HttpFixture.post(port, "/generate", body).build());
    }

    @Test
    void prometheusExportsEveryDesignMetricFromStartUp() {
        String scrape = scrape();
        assertThat(DESIGN_METRICS).allSatisfy(name -> assertThat(scrape).contains(name));
        assertThat(scrape).contains("kvlab_oom_events_total{phase=\"decode\",policy=\"h2o\",source=\"device\"}")
                .contains("kvlab_experiments{status=\"running\"} 0");
    }

    @Test
    void countersFollowTheRequestsAndCacheGaugesReturnToZero() {
        String before = scrape();
        JsonNode r = JSON.readTree(generate("""
                {"prompt": "The quick brown fox jumps", "max_new_tokens": 30,
                 "kv_cache": {"policy": "h2o", "budget": 8}}""").body());
        String after = scrape();
        int completion = r.path("usage").path("completion_tokens").asInt();
        assertThat(delta(before, after, "kvlab_generated_tokens_total", "policy=\"h2o\"")).isEqualTo(completion);
        assertThat(delta(before, after, "kvlab_prompt_tokens_total", "policy=\"h2o\""))
                .isEqualTo(r.path("usage").path("prompt_tokens").asInt());
        assertThat(delta(before, after, "kvlab_cache_evictions_total", "policy=\"h2o\""))
                .isEqualTo(r.path("kv_cache").path("evicted").asLong());
        assertThat(delta(before, after, "kvlab_inter_token_latency_seconds_count", null))
                .isEqualTo(Math.max(0, completion - 1));
        assertThat(delta(before, after, "kvlab_request_duration_seconds_count", null)).isEqualTo(1);
        assertThat(HttpFixture.metric(after, "kvlab_kv_cache_bytes", null)).isZero();
        assertThat(HttpFixture.metric(after, "kvlab_kv_cache_tokens", null)).isZero();
        assertThat(HttpFixture.metric(after, "kvlab_requests_running", null)).isZero();
        assertThat(HttpFixture.metric(after, "kvlab_memory_budget_bytes", null)).isPositive();
    }

    @Test
    void concurrentRequestsShareSchedulerSteps() throws Exception {
        String before = settledScrape();
        String body = """
                {"prompt": "The quick brown fox jumps", "max_new_tokens": 60, "temperature": 0.9, "seed": %d}""";
        ExecutorService clients = Executors.newFixedThreadPool(4);
        List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int seed = i;
            responses.add(CompletableFuture.supplyAsync(() -> generate(body.formatted(seed)), clients));
        }
        clients.shutdown();
        long prompt = 0;
        long completion = 0;
        for (CompletableFuture<HttpResponse<String>> f : responses) {
            HttpResponse<String> r = f.get(60, TimeUnit.SECONDS);
            assertThat(r.statusCode()).isEqualTo(200);
            JsonNode usage = JSON.readTree(r.body()).path("usage");
            prompt += usage.path("prompt_tokens").asLong();
            completion += usage.path("completion_tokens").asLong();
        }
        String after = settledScrape();
        double steps = delta(before, after, "kvlab_scheduler_steps_total", null);
        double sequenceSteps = delta(before, after, "kvlab_batch_size_sum", null);
        assertThat(delta(before, after, "kvlab_batch_size_count", null)).isEqualTo(steps);
        // every token fed to the model is counted once: the prompts, and each generated token but the last
        assertThat(delta(before, after, "kvlab_batch_tokens_sum", null))
                .isBetween((double) prompt + completion - 4, (double) prompt + completion);
        // batched: fewer steps than the four requests would take one after another
        assertThat(sequenceSteps).as("sequences summed over steps").isGreaterThan(steps);
        assertThat(HttpFixture.metric(after, "kvlab_batch_size_bucket", "le=\"1.0\""))
                .isLessThan(HttpFixture.metric(after, "kvlab_batch_size_count", null));
    }

    /**
     * A scrape taken between scheduler steps: a step's meters are recorded after its sequences
     * advance, so a scrape can land between a response and the meters of the step that ended it.
     */
    private String settledScrape() throws InterruptedException {
        for (int attempt = 0; ; attempt++) {
            String s = scrape();
            double count = HttpFixture.metric(s, "kvlab_batch_size_count", null);
            if (count == HttpFixture.metric(s, "kvlab_scheduler_steps_total", null) || attempt == 50) {
                return s;
            }
            Thread.sleep(20);
        }
    }

    private static double delta(String before, String after, String name, String labels) {
        return HttpFixture.metric(after, name, labels) - HttpFixture.metric(before, name, labels);
    }

    @Test
    void deviceOutOfMemoryFailsOnlyThatRequestAndIsCounted() {
        String labels = "phase=\"prefill\",policy=\"full\",source=\"device\"";
        double before = HttpFixture.metric(scrape(), "kvlab_oom_events_total", labels);
        faults().failAfter(0, new EngineException("CUDA out of memory. Tried to allocate 20.00 MiB"));
        HttpResponse<String> failed = generate("{\"prompt\": \"abc\", \"max_new_tokens\": 4}");
        assertThat(failed.statusCode()).isEqualTo(507);
        assertThat(failed.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        assertThat(JSON.readTree(failed.body()).path("kv_bytes_per_token").asLong())
                .isEqualTo(model.kvSpec().bytesPerToken());
        String scrape = scrape();
        assertThat(HttpFixture.metric(scrape, "kvlab_oom_events_total", labels)).isEqualTo(before + 1);
        assertThat(HttpFixture.metric(scrape, "kvlab_requests_running", null)).isZero();
        assertThat(HttpFixture.metric(scrape, "kvlab_kv_cache_bytes", null)).isZero();
        assertThat(generate("{\"prompt\": \"abc\", \"max_new_tokens\": 4}").statusCode()).isEqualTo(200);
    }

    @Test
    void capacityPredictsTokensForGrowingCachesAndUnboundedForBudgets() {
        JsonNode full = JSON.readTree(HttpFixture.get(port, "/capacity"));
        assertThat(full.path("policy").asString()).isEqualTo("full");
        assertThat(full.path("kv_bytes_per_token").asLong()).isEqualTo(model.kvSpec().bytesPerToken());
        assertThat(full.path("device").asString()).isEqualTo("cpu");
        assertThat(full.path("limited_by").asString()).isEqualTo("device");
        assertThat(full.path("max_tokens").isNumber()).isTrue();
        assertThat(full.path("max_tokens").asLong()).isPositive()
                .isLessThanOrEqualTo(full.path("available_bytes").asLong() / model.kvSpec().bytesPerToken());

        JsonNode h2o = JSON.readTree(HttpFixture.get(port, "/capacity?policy=h2o&budget=64&recent=16"));
        assertThat(h2o.path("max_tokens").asString()).isEqualTo("unbounded");
        assertThat(h2o.path("params").path("budget").asInt()).isEqualTo(64);
        assertThat(h2o.path("bounded_bytes").asLong()).isGreaterThan(64 * model.kvSpec().bytesPerToken());

        JsonNode ratio = JSON.readTree(HttpFixture.get(port, "/capacity?policy=tova&budget_ratio=0.5"));
        assertThat(ratio.path("max_tokens").asLong()).isGreaterThan(full.path("max_tokens").asLong());

        HttpResponse<String> bad = HttpFixture.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://localhost:" + port + "/capacity?policy=h2o&budget=-5")).GET().build());
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(bad.body()).path("field").asString()).isEqualTo("budget");
    }
}
