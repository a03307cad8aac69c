package dev.kvlab.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** The dashboard's PromQL, read without a server: what it queries and that each query parses. */
class DashboardTest {

    @Test
    void metricNamesAreReadOutOfPromQl() {
        assertThat(PromQl.metricNames("histogram_quantile(0.99, sum by (le) (rate("
                + "kvlab_time_to_first_token_seconds_bucket{instance=~\"$instance\"}[$__rate_interval])))"))
                .containsExactly("kvlab_time_to_first_token_seconds_bucket");
        assertThat(PromQl.metricNames("1 - sum by (policy) (a_bytes{p=\"x{y}\"}) / (sum without (le, job) (b:c) > 0)"
                + " + on(instance) group_left(device) d offset 5m and bool 1e3"))
                .containsExactly("a_bytes", "b:c", "d");
        assertThat(PromQl.variableQueryMetricNames("label_values(kvlab_requests_running{job=\"kvlab\"}, instance)"))
                .containsExactly("kvlab_requests_running");
        assertThatThrownBy(() -> PromQl.metricNames("sum(rate(x[5m])")).hasMessageContaining("unclosed");
        assertThatThrownBy(() -> PromQl.metricNames("sum(x})")).hasMessageContaining("unbalanced");
    }

    @Test
    void everyPanelHasAQueryAndEveryQueryReadsAKvlabMetric() {
        assertThat(Dashboard.panelExpressions()).hasSizeGreaterThan(15).allSatisfy(expr ->
                assertThat(PromQl.metricNames(expr)).as(expr).isNotEmpty().allMatch(n -> n.startsWith("kvlab_")));
        for (JsonNode panel : Dashboard.json().path("panels")) {
            if (!panel.path("type").asString().equals("row")) {
                assertThat(panel.path("targets").size()).as(panel.path("title").asString()).isPositive();
                assertThat(panel.path("datasource").path("uid").asString()).isEqualTo("${datasource}");
            }
        }
    }

    @Test
    void theDashboardShowsEveryMetricOfDesignSection6() {
        Set<String> families = Dashboard.metricNames().stream().map(Dashboard::family).collect(Collectors.toSet());
        assertThat(families).containsAll(Dashboard.DESIGN_METRICS);
    }

    @Test
    void theDashboardShowsTheSchedulersBatchSizeTokensAndSteps() {
        Set<String> families = Dashboard.metricNames().stream().map(Dashboard::family).collect(Collectors.toSet());
        assertThat(families).containsAll(Dashboard.SCHEDULER_METRICS);
    }

    @Test
    void histogramsAreQueriedThroughTheirSeriesNotTheirFamilyName() {
        for (String name : Dashboard.metricNames()) {
            if (name.endsWith("_seconds") || name.endsWith("_seconds_max")) {
                throw new AssertionError(name + " is a histogram family: query _bucket, _sum or _count");
            }
        }
    }
}
