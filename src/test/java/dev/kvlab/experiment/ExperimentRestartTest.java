package dev.kvlab.experiment;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kvlab.KvlabApplication;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.simple.JdbcClient;
import tools.jackson.databind.JsonNode;

/**
 * Durability: servers started one after the other on the same H2 file, as after a restart or a
 * {@code kill -9}. Finished cells are kept, unfinished ones run again, no cell stores two results,
 * and a cell that fails records its error while the others complete.
 */
class ExperimentRestartTest {

    @TempDir
    Path data;

    private ConfigurableApplicationContext start(boolean execute, String... more) {
        String[] base = {"--server.port=0", "--kvlab.device=cpu", "--kvlab.prefill.chunk=8",
                "--kvlab.model.path=" + ExperimentApiTest.MODEL_DIR,
                "--spring.datasource.url=jdbc:h2:file:" + data.resolve("kvlab") + ";AUTO_SERVER=TRUE",
                "--kvlab.experiments.execute=" + execute, "--kvlab.experiments.poll-interval=100ms",
                "--kvlab.experiments.heartbeat=1s"};
        String[] args = new String[base.length + more.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(more, 0, args, base.length, more.length);
        return new SpringApplicationBuilder(KvlabApplication.class).run(args);
    }

    private static ExperimentClient client(ConfigurableApplicationContext context) {
        return new ExperimentClient(Integer.parseInt(context.getEnvironment().getProperty("local.server.port")));
    }

    private static void assertOneResultPerSucceededCell(ConfigurableApplicationContext context, String id) {
        JdbcClient jdbc = context.getBean(JdbcClient.class);
        List<String> resultCells = jdbc.sql("select cell_id from result where experiment_id = ?").param(id)
                .query(String.class).list();
        long succeeded = jdbc.sql("select count(*) from cell where experiment_id = ? and status = 'succeeded'")
                .param(id).query(Long.class).single();
        Set<String> distinct = new HashSet<>(resultCells);
        assertThat(distinct).hasSameSizeAs(resultCells);
        assertThat((long) resultCells.size()).isEqualTo(succeeded);
        long pending = jdbc.sql("select count(*) from scheduled_tasks").query(Long.class).single();
        assertThat(pending).isZero();
    }

    @Test
    void cellsQueuedBeforeARestartRunAfterItAndAFailedCellRecordsItsError() {
        String path;
        try (ConfigurableApplicationContext first = start(false)) {
            path = client(first).create("{\"kind\": \"throughput\", \"context_lengths\": [8, 16], \"decode_tokens\": 2,"
                    + " \"policies\": [{\"policy\": \"full\"}, {\"policy\": \"streaming\", \"budget\": 8, \"sinks\": 2}]}");
            ExperimentClient.sleep(500);
            assertThat(client(first).json(path).path("status").asString()).isEqualTo("queued");
            // a cell whose parameters the engine refuses: it fails, the others go on
            first.getBean(JdbcClient.class)
                    .sql("update cell set params = ? where seq = 3")
                    .param("{\"kv_cache\": {\"policy\": \"no-such-policy\"}, \"context_length\": 8, \"decode_tokens\": 2}")
                    .update();
        }
        try (ConfigurableApplicationContext second = start(true)) {
            JsonNode e = client(second).awaitFinished(path, Duration.ofMinutes(2));
            assertThat(e.path("status").asString()).isEqualTo("succeeded");
            assertThat(e.path("progress").path("done").asInt()).isEqualTo(4);
            assertThat(e.path("progress").path("failed").asInt()).isEqualTo(1);
            JsonNode failed = e.path("results").get(3);
            assertThat(failed.path("status").asString()).isEqualTo("failed");
            assertThat(failed.path("error").asString()).contains("no-such-policy");
            for (int i = 0; i < 3; i++) {
                assertThat(e.path("results").get(i).path("decode_tokens_per_second").asDouble()).isPositive();
            }
            assertOneResultPerSucceededCell(second, path.substring("/experiments/".length()));
        }
    }

    @Test
    void aServerStoppedMidWayLosesNoFinishedCellAndTheNextOneFinishesTheRest() {
        String path;
        int doneBefore;
        try (ConfigurableApplicationContext first = start(true)) {
            ExperimentClient http = client(first);
            path = http.create("{\"kind\": \"throughput\", \"context_lengths\": [64, 64, 64, 64, 64, 64], "
                    + "\"decode_tokens\": 8, \"policies\": [{\"policy\": \"full\"}]}");
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            do {
                ExperimentClient.sleep(20);
                doneBefore = http.json(path).path("progress").path("done").asInt();
            } while (doneBefore == 0 && System.nanoTime() < deadline);
            assertThat(doneBefore).isPositive();
        }
        try (ConfigurableApplicationContext second = start(true)) {
            String id = path.substring("/experiments/".length());
            long keptResults = second.getBean(JdbcClient.class)
                    .sql("select count(*) from result where experiment_id = ?").param(id).query(Long.class).single();
            assertThat(keptResults).isGreaterThanOrEqualTo(doneBefore);
            JsonNode e = client(second).awaitFinished(path, Duration.ofMinutes(2));
            assertThat(e.path("status").asString()).isEqualTo("succeeded");
            assertThat(e.path("progress").path("done").asInt()).isEqualTo(6);
            assertThat(e.path("progress").path("failed").asInt()).isZero();
            assertOneResultPerSucceededCell(second, id);
        }
    }

    @Test
    void cellsOfAnInstanceKilledMidRunAreRunAgainByDeadExecutionDetection() {
        String path;
        try (ConfigurableApplicationContext first = start(false)) {
            path = client(first).create("{\"kind\": \"throughput\", \"context_lengths\": [8, 16], \"decode_tokens\": 2,"
                    + " \"policies\": [{\"policy\": \"full\"}]}");
            // what kill -9 leaves behind: executions picked by an instance that stopped heartbeating,
            // one cell marked running
            JdbcClient jdbc = first.getBean(JdbcClient.class);
            jdbc.sql("update scheduled_tasks set picked = true, picked_by = 'killed-instance',"
                    + " last_heartbeat = execution_time - interval '1' hour, version = version + 1").update();
            jdbc.sql("update cell set status = 'running', attempts = 1 where seq = 0").update();
        }
        try (ConfigurableApplicationContext second = start(true)) {
            JsonNode e = client(second).awaitFinished(path, Duration.ofMinutes(2));
            assertThat(e.path("status").asString()).isEqualTo("succeeded");
            assertThat(e.path("progress").path("done").asInt()).isEqualTo(2);
            assertOneResultPerSucceededCell(second, path.substring("/experiments/".length()));
        }
    }

    @Test
    void aCancelSentToAnotherReplicaStopsTheCellRunningHere() {
        try (ConfigurableApplicationContext runner = start(true); ConfigurableApplicationContext other = start(false)) {
            ExperimentClient here = client(runner);
            ExperimentClient there = client(other);
            // one cell of 30 documents of 4096 tokens: minutes, unless stopped
            String path = there.create("{\"kind\": \"passkey\", \"context_lengths\": [4096], \"depths\": [0],"
                    + " \"trials\": 30, \"policies\": [{\"policy\": \"full\"}]}");
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (!cellStatus(here.json(path)).equals("running") && System.nanoTime() < deadline) {
                ExperimentClient.sleep(20);
            }
            assertThat(cellStatus(here.json(path))).isEqualTo("running");
            ExperimentClient.sleep(500);

            long cancelledAt = System.nanoTime();
            assertThat(there.delete(path).statusCode()).isEqualTo(200);
            JsonNode e = here.json(path);
            while (cellStatus(e).equals("running") && System.nanoTime() - cancelledAt < Duration.ofSeconds(15).toNanos()) {
                ExperimentClient.sleep(20);
                e = here.json(path);
            }
            double seconds = (System.nanoTime() - cancelledAt) / 1e9;
            // the runner re-reads the status every RunningCells.CHECK_PERIOD, then stops after the current pass
            assertThat(seconds).as("seconds from cancel to the cell stopping").isLessThan(6);
            assertThat(e.path("status").asString()).isEqualTo("cancelled");
            assertThat(cellStatus(e)).as(e.toString()).isEqualTo("cancelled");
            assertThat(e.path("results").get(0).has("accuracy")).isFalse();
        }
    }

    private static String cellStatus(JsonNode experiment) {
        return experiment.path("results").path(0).path("status").asString();
    }
}
