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
        }
    }
}
