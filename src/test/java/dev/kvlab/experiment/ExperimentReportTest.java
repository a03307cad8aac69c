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
        JFreeChart chart = ReportCharts.charts(new CompressionSweepKind(null, 4096), rows)
                .get("Pass-key accuracy against compression ratio");
        XYPlot plot = chart.getXYPlot();
        assertThat(plot.getBackgroundPaint()).isEqualTo(Color.WHITE);
        assertThat(plot.getDataset().getSeriesCount()).isEqualTo(4);
        for (int s = 0; s < 4; s++) {
            Color c = (Color) ((org.jfree.chart.renderer.AbstractRenderer) plot.getRenderer()).lookupSeriesPaint(s);
            assertThat(c).isEqualTo(ReportCharts.PALETTE[s]);
            boolean yellow = c.getRed() > 200 && c.getGreen() > 200 && c.getBlue() < 100;
            assertThat(yellow).as("series %d is %s", s, c).isFalse();
        }
        assertThat(plot.getDataset().getSeriesKey(0)).isEqualTo("full");
    }

    @Test
    void everyPolicyGetsANeedleHeatmapOfLengthByDepth() {
        List<Map<String, Object>> rows = new java.util.ArrayList<>();
        for (String policy : List.of("full", "h2o/64")) {
            for (int length : new int[] {256, 512}) {
                for (double depth : new double[] {0.0, 0.5, 1.0}) {
                    rows.add(Map.of("policy", policy, "context_length", length, "depth", depth,
                            "accuracy", policy.equals("full") ? 1.0 : depth / 2 + (length == 512 ? 0.25 : 0)));
                }
            }
        }
        Map<String, JFreeChart> charts = ReportCharts.charts(new PassKeyKind(null, 4096), rows);
        assertThat(charts).containsKeys("Needle heatmap: full", "Needle heatmap: h2o/64");
        org.jfree.data.xy.XYZDataset data = (org.jfree.data.xy.XYZDataset) charts.get("Needle heatmap: h2o/64")
                .getXYPlot().getDataset();
        assertThat(data.getItemCount(0)).isEqualTo(6);
        for (int i = 0; i < 6; i++) {
            double length = data.getXValue(0, i) == 0 ? 256 : 512;
            double depth = data.getYValue(0, i) / 2;
            assertThat(data.getZValue(0, i)).isEqualTo(depth / 2 + (length == 512 ? 0.25 : 0));
        }
    }
}
