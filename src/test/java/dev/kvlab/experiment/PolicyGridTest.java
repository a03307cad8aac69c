package dev.kvlab.experiment;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Plot and CSV labels tell every policy variant of a grid apart. */
class PolicyGridTest {

    @Test
    void labelsNameThePolicyItsBudgetItsCompactionIntervalAndItsQuantization() {
        assertThat(PolicyGrid.label(Map.of("policy", "full"))).isEqualTo("full");
        assertThat(PolicyGrid.label(Map.of("policy", "h2o", "budget", 256))).isEqualTo("h2o/256");
        assertThat(PolicyGrid.label(Map.of("policy", "h2o", "budget_ratio", 0.5))).isEqualTo("h2o/0.5");
        assertThat(PolicyGrid.label(Map.of("policy", "h2o", "budget", 256, "compact_every", 16)))
                .isEqualTo("h2o/256/every16");
        assertThat(PolicyGrid.label(Map.of("policy", "h2o", "budget", 256, "quantization", "int8")))
                .isEqualTo("h2o/256/int8");
        assertThat(PolicyGrid.label(Map.of("policy", "full", "quantization", "int4"))).isEqualTo("full/int4");
        assertThat(PolicyGrid.label(Map.of("policy", "full", "quantization", "none"))).isEqualTo("full");
    }
}
