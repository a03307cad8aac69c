package dev.kvlab.console;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.support.ui.Select;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;

/**
 * The web console in headless Chromium against the whole server with the shipped model, an API key
 * set and experiments in an in-memory database: the page loads cleanly, the playground compares
 * policies with their cache maps, experiments start from the form and draw their charts, and no data
 * loads before the key is entered. Skipped where Chromium or its driver is not installed.
 */
@DirtiesContext // used by this class only: do not keep its server and threads alive for later tests
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"kvlab.device=cpu", "kvlab.prefill.chunk=32", "kvlab.security.api-key=" + ConsoleBrowserTest.KEY,
                "spring.datasource.url=jdbc:h2:mem:console;DB_CLOSE_DELAY=-1",
                "kvlab.experiments.poll-interval=100ms"})
class ConsoleBrowserTest {

    static final String KEY = "console-test-key";
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final String LONG_PROMPT = "The pass key is 48213. Remember it. The grass is green. The sky is"
            + " blue. The sun is yellow. Here we go. There and back again. The grass is green. The sky is blue."
            + " The sun is yellow. What is the pass key? The pass key is";

    private static ConsoleBrowser browser;

    @LocalServerPort
    int port;

    @BeforeAll
    static void chromium() {
        Assumptions.assumeTrue(ConsoleBrowser.installed(), "needs Debian's chromium and chromium-driver");
    }

    @BeforeEach
    void start() {
        if (browser == null) {
            browser = new ConsoleBrowser(port);
        }
    }

    @AfterAll
    static void stop() {
        if (browser != null) {
            browser.close();
            browser = null;
        }
    }

    private void openConnected() {
        browser.open(KEY);
        browser.await(WAIT, d -> browser.find("body").getDomAttribute("data-connected") != null);
    }

    @Test
    void theConsoleLoadsWithoutBrowserErrors() {
        browser.consoleLog();
        openConnected();
        browser.await(WAIT, d -> browser.find("#live-running").getText().matches("\\d+/\\d+"));
        assertThat(browser.find("#model-info").getText()).contains("kvlab-tiny").contains("cpu");
        assertThat(browser.findAll("#live-chart svg")).isNotEmpty();
        browser.find("button[data-tab=experiments]").click();
        assertThat(browser.find("#experiment-fields").getText()).contains("max_new_tokens");
        browser.find("button[data-tab=playground]").click();
        List<LogEntry> errors = browser.consoleLog().stream()
                .filter(e -> e.getLevel().intValue() >= Level.WARNING.intValue()).toList();
        assertThat(errors).as("browser console").isEmpty();
    }

    @Test
    void thePlaygroundComparesFullAndH2oWithTheirCacheMaps() {
        openConnected();
        WebElement prompt = browser.find("#prompt");
        prompt.clear();
        prompt.sendKeys(LONG_PROMPT);
        List<WebElement> columns = browser.findAll(".column");
        assertThat(columns).hasSize(2);
        setColumn(columns.get(0), "full", "");
        setColumn(columns.get(1), "h2o", "32");
        browser.find("#run").click();
        browser.await(WAIT, d -> columns.stream().allMatch(c -> "done".equals(c.getDomAttribute("data-state"))));

        for (WebElement column : columns) {
            assertThat(column.findElement(By.cssSelector(".output")).getText()).isNotBlank();
        }
        List<WebElement> fullTokens = tokens(columns.get(0));
        List<WebElement> h2oTokens = tokens(columns.get(1));
        assertThat(fullTokens).hasSizeGreaterThan(32);
        assertThat(h2oTokens).hasSizeGreaterThan(32);
        assertThat(classes(fullTokens, "evicted")).as("a full cache keeps every token").isZero();
        assertThat(classes(h2oTokens, "evicted")).as("h2o at budget 32 evicts").isPositive();
        assertThat(columns.get(1).getText()).contains("evicted").contains("compression ratio");

        columns.get(1).findElement(By.cssSelector(".layers-toggle")).click();
        browser.await(WAIT, d -> !columns.get(1).findElements(By.cssSelector(".by-layer svg")).isEmpty());
        browser.screenshot(browser.find("body"), "console-playground.png");
    }

    @Test
    void aMemoryGrowthExperimentFromTheFormSucceedsAndDrawsItsCurves() {
        Map<String, Object> chart = runFromForm("memory-growth", "[{\"policy\": \"full\"}, "
                + "{\"policy\": \"h2o\", \"budget\": 16}, {\"policy\": \"streaming\", \"budget\": 16}]",
                Map.of("max_new_tokens", "64", "every", "8", "prompt_tokens", "16"),
                "console-experiment-memory-growth.png");
        assertThat(chart.get("series")).isEqualTo(3L);
        assertThat((Long) chart.get("points")).isEqualTo(3 * 8);
    }

    @Test
    void aPassKeyExperimentFromTheFormSucceedsAndDrawsItsHeatmaps() {
        Map<String, Object> chart = runFromForm("passkey", "[{\"policy\": \"full\"}, {\"policy\": \"h2o\", \"budget\": 64}]",
                Map.of("context_lengths", "64, 128", "depths", "0, 0.5, 1", "trials", "1"),
                "console-experiment-passkey.png");
        assertThat(chart.get("charts")).isEqualTo(2L);
        assertThat(chart.get("points")).isEqualTo(6L);
    }

    static Stream<Arguments> otherKinds() {
        String policies = "[{\"policy\": \"full\"}, {\"policy\": \"streaming\", \"budget\": 16}]";
        return Stream.of(
                Arguments.of("oom-sweep", policies, Map.of("start_length", "32", "max_length", "64", "decode_tokens", "2"), 1),
                Arguments.of("throughput", policies, Map.of("context_lengths", "32, 64", "decode_tokens", "4",
                        "concurrency", "1, 2"), 2),
                Arguments.of("perplexity", policies, Map.of("tokens", "48"), 1),
                Arguments.of("compression-sweep", "[{\"policy\": \"h2o\"}]", Map.of("ratios", "0.5, 0.75",
                        "context_lengths", "64", "depths", "0.5", "trials", "1", "tokens", "48"), 2));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("otherKinds")
    void everyOtherKindFromTheFormSucceedsAndDrawsItsCharts(String kind, String policies, Map<String, String> fields,
            long charts) {
        Map<String, Object> chart = runFromForm(kind, policies, fields, null);
        assertThat(chart.get("charts")).isEqualTo(charts);
        assertThat((Long) chart.get("points")).isPositive();
    }

    @Test
    void noDataLoadsBeforeTheKeyIsEntered() {
        browser.open(null);
        browser.await(WAIT, d -> browser.find("#key-dialog").isDisplayed());
        assertThat(browser.find("body").getDomAttribute("data-connected")).isNull();
        assertThat(browser.find("#model-info").getText()).isEmpty();
        assertThat(browser.find("#live-running").getText()).isEqualTo("–");
        assertThat(browser.findAll("#experiment-list tbody tr")).isEmpty();

        browser.find("#key-input").sendKeys("wrong-key\n");
        browser.await(WAIT, d -> !browser.find("#key-error").getText().isEmpty());
        assertThat(browser.find("body").getDomAttribute("data-connected")).isNull();

        WebElement input = browser.find("#key-input");
        input.clear();
        input.sendKeys(KEY + "\n");
        browser.await(WAIT, d -> browser.find("#live-running").getText().matches("\\d+/\\d+"));
        assertThat(browser.find("#key-dialog").isDisplayed()).isFalse();
        assertThat(browser.find("#model-info").getText()).contains("kvlab-tiny");
        assertThat(browser.script("return sessionStorage.getItem('kvlab.apiKey')")).isEqualTo(KEY);
    }

    private static void setColumn(WebElement column, String policy, String budget) {
        new Select(column.findElement(By.cssSelector(".policy"))).selectByValue(policy);
        WebElement input = column.findElement(By.cssSelector(".budget"));
        if (input.isEnabled()) {
            input.clear();
            input.sendKeys(budget);
        }
    }

    private static List<WebElement> tokens(WebElement column) {
        return column.findElements(By.cssSelector(".strip .tok"));
    }

    private static long classes(List<WebElement> tokens, String name) {
        return tokens.stream().filter(t -> t.getDomAttribute("class").contains(name)).count();
    }

    /**
     * Starts an experiment from the form, waits for it to succeed and returns what its ECharts
     * instances hold: {@code charts}, {@code series} (of the first) and {@code points} (data of all series).
     */
    @SuppressWarnings("unchecked")
    private Map<String, Object> runFromForm(String kind, String policies, Map<String, String> fields, String screenshot) {
        openConnected();
        browser.find("button[data-tab=experiments]").click();
        new Select(browser.find("#experiment-kind")).selectByValue(kind);
        WebElement policiesInput = browser.find("#experiment-policies");
        policiesInput.clear();
        policiesInput.sendKeys(policies);
        browser.find("#experiment-name").sendKeys("browser test");
        fields.forEach((name, value) -> {
            WebElement input = browser.find("#experiment-fields [name=" + name + "]");
            input.clear();
            input.sendKeys(value);
        });
        browser.find("#experiment-form button[type=submit]").click();
        browser.await(WAIT, d -> "succeeded".equals(browser.find("#experiment-view").getDomAttribute("data-status")));
        assertThat(browser.find("#experiment-error").getText()).isEmpty();
        assertThat(browser.find("#experiment-view .charts").getDomAttribute("data-kind")).isEqualTo(kind);
        assertThat(browser.findAll("#experiment-view .chart svg")).isNotEmpty();
        browser.await(WAIT, d -> browser.find("#experiment-list tbody tr.selected").getText().contains("succeeded"));
        if (screenshot != null) {
            browser.screenshot(browser.find("#experiment-view"), screenshot);
        }
        return (Map<String, Object>) browser.script("""
                const charts = [...document.querySelectorAll('#experiment-view .chart')]
                    .map(node => echarts.getInstanceByDom(node));
                const series = charts.map(c => c.getOption().series);
                return {charts: charts.length, series: series[0].length,
                        points: series[0].reduce((n, s) => n + s.data.length, 0)};""");
    }
}
