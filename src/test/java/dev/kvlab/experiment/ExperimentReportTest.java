package dev.kvlab.experiment;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.Color;
import java.util.List;
import java.util.Map;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.XYPlot;
import org.junit.jupiter.api.Test;

/** The report's charts are readable: white plot area, distinct colour-blind-safe series, no yellow. */
class ExperimentReportTest {

    private static Map<String, Object> row(String policy, double ratio, double score) {
        return Map.of("policy", policy, "kv_cache", Map.of("policy", policy), "task", "passkey",
                "compression_ratio", ratio, "score", score);
    }

    @Test
    void seriesGetDistinctPaletteColoursOnWhite() {
        List<Map<String, Object>> rows = List.of(row("full", 0, 0.9), row("h2o", 0.5, 0.6), row("h2o", 0.75, 0.3),
                row("tova", 0.5, 0.2), row("tova", 0.75, 0.1), row("snapkv", 0.5, 0.7), row("snapkv", 0.75, 0.6));
        JFreeChart chart = ExperimentReport.charts("compression-sweep", rows)
                .get("Pass-key accuracy against compression ratio");
        XYPlot plot = chart.getXYPlot();
        assertThat(plot.getBackgroundPaint()).isEqualTo(Color.WHITE);
        assertThat(plot.getDataset().getSeriesCount()).isEqualTo(4);
        for (int s = 0; s < 4; s++) {
            Color c = (Color) ((org.jfree.chart.renderer.AbstractRenderer) plot.getRenderer()).lookupSeriesPaint(s);
            assertThat(c).isEqualTo(ExperimentReport.PALETTE[s]);
            boolean yellow = c.getRed() > 200 && c.getGreen() > 200 && c.getBlue() < 100;
            assertThat(yellow).as("series %d is %s", s, c).isFalse();
        }
        assertThat(plot.getDataset().getSeriesKey(0)).isEqualTo("full");
    }
}
