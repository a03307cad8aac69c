package dev.kvlab.experiment;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** CSV export and the rule that derives an experiment's status from its cells. */
class ResultsCsvTest {

    @Test
    void nestedObjectsBecomeDottedColumnsAndSampleListsBecomeLines() {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("policy", "h2o/8");
        row.put("kv_cache", Map.of("budget", 8));
        row.put("note", "a, \"quoted\" value");
        row.put("samples", List.of(Map.of("generated_tokens", 4), Map.of("generated_tokens", 8)));
        List<String> lines = ResultsCsv.write(List.of(row)).lines().toList();
        assertThat(lines).containsExactly(
                "policy,kv_cache.budget,note,samples.generated_tokens",
                "h2o/8,8,\"a, \"\"quoted\"\" value\",4",
                "h2o/8,8,\"a, \"\"quoted\"\" value\",8");
    }

    @Test
    void statusFollowsTheCells() {
        assertThat(ExperimentRepository.statusOf(Map.of(ExperimentStatus.QUEUED, 3))).isEqualTo(ExperimentStatus.QUEUED);
        assertThat(ExperimentRepository.statusOf(Map.of(ExperimentStatus.QUEUED, 2, ExperimentStatus.SUCCEEDED, 1)))
                .isEqualTo(ExperimentStatus.RUNNING);
        assertThat(ExperimentRepository.statusOf(Map.of(ExperimentStatus.SUCCEEDED, 2, ExperimentStatus.FAILED, 1)))
                .isEqualTo(ExperimentStatus.SUCCEEDED);
        assertThat(ExperimentRepository.statusOf(Map.of(ExperimentStatus.FAILED, 3))).isEqualTo(ExperimentStatus.FAILED);
    }
}
