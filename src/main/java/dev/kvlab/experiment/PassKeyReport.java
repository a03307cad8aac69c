package dev.kvlab.experiment;

import java.awt.Color;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.DefaultXYZDataset;

/**
 * The report of a {@code passkey} experiment: accuracy against context length (mean over depths),
 * a needle-in-a-haystack heatmap per policy and the accuracy grid, from rows of
 * {@code context_length}, {@code depth} and {@code accuracy}.
 */
final class PassKeyReport {

    private PassKeyReport() {}

    static Map<String, JFreeChart> charts(List<Map<String, Object>> rows) {
        Map<String, JFreeChart> charts = new LinkedHashMap<>();
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        Map<String, double[]> mean = new LinkedHashMap<>();
        for (Map<String, Object> row : rows) {
            String key = ReportCharts.label(row) + "\u0000" + ReportCharts.num(row.get("context_length"));
            double[] acc = mean.computeIfAbsent(key, k -> new double[2]);
            acc[0] += ReportCharts.num(row.get("accuracy"));
            acc[1]++;
        }
        mean.forEach((key, acc) -> {
            String[] parts = key.split("\u0000");
            data.addValue(acc[0] / acc[1], parts[0], String.format(Locale.ROOT, "%.0f", Double.parseDouble(parts[1])));
        });
        charts.put("Pass-key accuracy against context length (mean over depths)", ReportCharts.bars(
                "Pass-key accuracy", "context length (tokens)", "accuracy", data, true));
        needleHeatmaps(charts, rows);
        return charts;
    }

    /**
     * Per policy, the needle-in-a-haystack figure: context length across, depth of the key down, each
     * cell shaded by accuracy from red (0) through yellow to green (1).
     */
    static void needleHeatmaps(Map<String, JFreeChart> charts, List<Map<String, Object>> rows) {
        List<Double> lengths = rows.stream().map(r -> ReportCharts.num(r.get("context_length"))).distinct().sorted().toList();
        List<Double> depths = rows.stream().map(r -> ReportCharts.num(r.get("depth"))).distinct().sorted().toList();
        Map<String, List<Map<String, Object>>> byPolicy = new LinkedHashMap<>();
        rows.forEach(r -> byPolicy.computeIfAbsent(ReportCharts.label(r), k -> new ArrayList<>()).add(r));
        byPolicy.forEach((policy, cells) -> {
            double[][] xyz = new double[3][cells.size()];
            for (int i = 0; i < cells.size(); i++) {
                xyz[0][i] = lengths.indexOf(ReportCharts.num(cells.get(i).get("context_length")));
                xyz[1][i] = depths.indexOf(ReportCharts.num(cells.get(i).get("depth")));
                xyz[2][i] = ReportCharts.num(cells.get(i).get("accuracy"));
            }
            DefaultXYZDataset data = new DefaultXYZDataset();
            data.addSeries(policy, xyz);
            XYBlockRenderer renderer = new XYBlockRenderer();
            LookupPaintScale scale = new LookupPaintScale(0, 1.0001, Color.LIGHT_GRAY);
            for (int step = 0; step <= 10; step++) {
                double a = step / 10.0;
                scale.add(a, a < 0.5 ? new Color(0xD7, (int) (0x30 + a * 2 * (0xE0 - 0x30)), 0x27)
                        : new Color((int) (0xD7 - (a - 0.5) * 2 * (0xD7 - 0x1A)), 0xE0 - (int) ((a - 0.5) * 2 * 0x40), 0x27));
            }
            renderer.setPaintScale(scale);
            SymbolAxis x = new SymbolAxis("context length (tokens)",
                    lengths.stream().map(l -> String.format(Locale.ROOT, "%.0f", l)).toArray(String[]::new));
            SymbolAxis y = new SymbolAxis("depth of the key",
                    depths.stream().map(d -> String.format(Locale.ROOT, "%.2f", d)).toArray(String[]::new));
            y.setInverted(true);
            XYPlot plot = new XYPlot(data, x, y, renderer);
            JFreeChart chart = new JFreeChart("Pass-key accuracy: " + policy, JFreeChart.DEFAULT_TITLE_FONT, plot, false);
            PaintScaleLegend legend = new PaintScaleLegend(scale, new NumberAxis("accuracy"));
            legend.setPosition(RectangleEdge.RIGHT);
            legend.setMargin(4, 4, 40, 4);
            chart.addSubtitle(legend);
            charts.put("Needle heatmap: " + policy, chart);
        });
    }

    /** Rows: policy, columns: context length × depth, cells: accuracy, shaded red (0) to green (1). */
    static String grid(List<Map<String, Object>> rows) {
        Set<String> columns = new LinkedHashSet<>();
        Map<String, Map<String, Double>> grid = new LinkedHashMap<>();
        for (Map<String, Object> row : rows) {
            String column = String.format(Locale.ROOT, "%.0f @ %.2f", ReportCharts.num(row.get("context_length")), ReportCharts.num(row.get("depth")));
            columns.add(column);
            grid.computeIfAbsent(ReportCharts.label(row), k -> new LinkedHashMap<>()).put(column,
                    ReportCharts.num(row.get("accuracy")));
        }
        StringBuilder t = new StringBuilder("<table><tr><th>policy \\ length @ depth</th>");
        columns.forEach(c -> t.append("<th>").append(ExperimentReport.escape(c)).append("</th>"));
        t.append("</tr>\n");
        grid.forEach((policy, cells) -> {
            t.append("<tr><th>").append(ExperimentReport.escape(policy)).append("</th>");
            for (String c : columns) {
                Double a = cells.get(c);
                if (a == null) {
                    t.append("<td></td>");
                } else {
                    int red = (int) Math.round(255 * (1 - a));
                    int green = (int) Math.round(200 * a + 55);
                    t.append(String.format(Locale.ROOT, "<td style=\"background:rgb(%d,%d,120)\">%.2f</td>", red, green, a));
                }
            }
            t.append("</tr>\n");
        });
        return t.append("</table>\n").toString();
    }
}
