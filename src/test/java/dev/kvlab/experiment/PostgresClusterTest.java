package dev.kvlab.experiment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kvlab.KvlabApplication;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.simple.JdbcClient;
import tools.jackson.databind.JsonNode;

/**
 * Scale-out (DESIGN §8) for real: two servers on one PostgreSQL (Debian's packages, started by the
 * test) share the cells of one experiment, and no cell runs twice. Skipped where PostgreSQL is not
 * installed ({@code apt-get install -y postgresql}).
 */
class PostgresClusterTest {

    private static ConfigurableApplicationContext server(LocalPostgres pg) {
        return new SpringApplicationBuilder(KvlabApplication.class).run("--server.port=0", "--kvlab.device=cpu",
                "--kvlab.prefill.chunk=8", "--kvlab.model.path=" + ExperimentApiTest.MODEL_DIR,
                "--spring.datasource.url=" + pg.jdbcUrl(), "--spring.datasource.username=" + LocalPostgres.USER,
                "--kvlab.experiments.poll-interval=100ms", "--kvlab.experiments.heartbeat=1s");
    }

    @Test
    void twoServersShareTheCellsOfOneExperimentAndRunEachOnce() throws Exception {
        Path bin = LocalPostgres.findBinaries();
        assumeTrue(bin != null, "PostgreSQL is not installed");
        try (LocalPostgres pg = LocalPostgres.start(bin);
                ConfigurableApplicationContext a = server(pg);
                ConfigurableApplicationContext b = server(pg)) {
            ExperimentClient http = new ExperimentClient(
                    Integer.parseInt(a.getEnvironment().getProperty("local.server.port")));
            String path = http.create("{\"kind\": \"throughput\", \"decode_tokens\": 16,"
                    + " \"context_lengths\": [128, 128, 128, 128, 128, 128, 128, 128], \"policies\": [{\"policy\": \"full\"}]}");
            JsonNode e = http.awaitFinished(path, Duration.ofMinutes(3));
            assertThat(e.path("status").asString()).isEqualTo("succeeded");
            assertThat(e.path("progress").path("done").asInt()).isEqualTo(8);

            // the other server reads the same experiment
            ExperimentClient other = new ExperimentClient(
                    Integer.parseInt(b.getEnvironment().getProperty("local.server.port")));
            assertThat(other.json(path).path("results")).hasSize(8);

            String id = path.substring("/experiments/".length());
            JdbcClient jdbc = a.getBean(JdbcClient.class);
            List<Map<String, Object>> cells = jdbc.sql("select attempts, ran_by from cell where experiment_id = ?")
                    .param(id).query().listOfRows();
            assertThat(cells).hasSize(8).allSatisfy(c -> assertThat(((Number) c.get("attempts")).intValue()).isOne());
            long results = jdbc.sql("select count(*) from result where experiment_id = ?").param(id)
                    .query(Long.class).single();
            assertThat(results).isEqualTo(8);
            assertThat(cells.stream().map(c -> c.get("ran_by")).distinct().count()).as("servers that ran cells")
                    .isEqualTo(2);

            theLastRefreshWaitsForAConcurrentCellAndSeesIt(a, pg);
        }
    }

    /**
     * The race CI once hit: two replicas finish the last two cells at once, each counts the other's
     * cell as running, and the stale count is written last, leaving the experiment "running" forever.
     * Here another connection holds the experiment row (as a concurrent refresh does) while it marks
     * the last cell succeeded; the refresh must wait for it and then see that cell.
     */
    private static void theLastRefreshWaitsForAConcurrentCellAndSeesIt(ConfigurableApplicationContext server,
            LocalPostgres pg) throws Exception {
        ExperimentRepository repository = server.getBean(ExperimentRepository.class);
        String id = java.util.UUID.randomUUID().toString();
        String cell = java.util.UUID.randomUUID().toString();
        long now = System.currentTimeMillis();
        repository.insert(new ExperimentRepository.ExperimentRow(id, "throughput", null, "{}", "running", 1, now, null),
                List.of(new ExperimentRepository.CellRow(cell, id, 0, "{}", "running", null, 0, null, null, null,
                        null)));
        javax.sql.DataSource dataSource = server.getBean(javax.sql.DataSource.class);
        try (java.sql.Connection other = dataSource.getConnection()) {
            other.setAutoCommit(false);
            try (var lock = other.prepareStatement("select id from experiment where id = ? for update")) {
                lock.setString(1, id);
                lock.executeQuery().close();
            }
            Thread refresh = new Thread(() -> repository.refreshStatus(id, System.currentTimeMillis()));
            refresh.start();
            refresh.join(1000);
            assertThat(refresh.isAlive()).as("refresh waits for the experiment row").isTrue();
            try (var done = other.prepareStatement("update cell set status = 'succeeded' where id = ?")) {
                done.setString(1, cell);
                done.executeUpdate();
            }
            other.commit();
            refresh.join(10_000);
            assertThat(refresh.isAlive()).isFalse();
        }
        assertThat(repository.find(id).orElseThrow().status()).isEqualTo("succeeded");
    }
}
