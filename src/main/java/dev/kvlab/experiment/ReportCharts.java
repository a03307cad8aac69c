package dev.kvlab.experiment;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Stroke;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.DefaultDrawingSupplier;
import org.jfree.chart.plot.Plot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.DefaultXYZDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * The experiment report's charts, per kind, all styled alike: what {@link ExperimentReport} embeds as
 * PNG images.
 */
final class ReportCharts {

    private ReportCharts() {}

    /**
     * The report's charts, styled alike: a white plot area, light grid lines, flat bars, and the
     * Okabe–Ito colour-blind-safe palette without its yellow (unreadable on white), black first.
     */
    static Map<String, JFreeChart> charts(String kind, List<Map<String, Object>> rows) {
        Map<String, JFreeChart> charts = plainCharts(kind, rows);
        charts.values().forEach(ReportCharts::style);
        return charts;
    }

    /** Okabe &amp; Ito (2008) without yellow, then grey: distinguishable under the common colour-vision deficiencies. */
    static final Color[] PALETTE = {new Color(0x000000), new Color(0x0072B2), new Color(0xD55E00),
        new Color(0x009E73), new Color(0xE69F00), new Color(0xCC79A7), new Color(0x56B4E9), new Color(0x999999)};

    private static void style(JFreeChart chart) {
        chart.setBackgroundPaint(Color.WHITE);
        Plot plot = chart.getPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDrawingSupplier(new DefaultDrawingSupplier(PALETTE, DefaultDrawingSupplier.DEFAULT_FILL_PAINT_SEQUENCE,
                DefaultDrawingSupplier.DEFAULT_OUTLINE_PAINT_SEQUENCE, new Stroke[] {new BasicStroke(2f)},
                DefaultDrawingSupplier.DEFAULT_OUTLINE_STROKE_SEQUENCE, DefaultDrawingSupplier.DEFAULT_SHAPE_SEQUENCE));
        if (plot instanceof XYPlot xy) {
            xy.setDomainGridlinePaint(Color.LIGHT_GRAY);
            xy.setRangeGridlinePaint(Color.LIGHT_GRAY);
        } else if (plot instanceof CategoryPlot category) {
            category.setRangeGridlinePaint(Color.LIGHT_GRAY);
            if (category.getRenderer() instanceof BarRenderer bars) {
                bars.setBarPainter(new StandardBarPainter());
                bars.setShadowVisible(false);
            }
        }
    }

    private static Map<String, JFreeChart> plainCharts(String kind, List<Map<String, Object>> rows) {
        Map<String, JFreeChart> charts = new LinkedHashMap<>();
        if (rows.isEmpty()) {
            return charts;
        }
        switch (kind) {
            case "memory-growth" -> {
                XYSeriesCollection data = new XYSeriesCollection();
                for (Map<String, Object> row : rows) {
                    XYSeries s = new XYSeries(label(row), false, true);
                    for (Map<String, Object> sample : list(row.get("samples"))) {
                        s.add(num(sample.get("generated_tokens")), num(sample.get("kv_bytes")) / 1024.0);
                    }
                    data.addSeries(s);
                }
                charts.put("KV cache memory against generated tokens",
                        lines("KV cache memory growth", "generated tokens", "KV cache (KiB)", data));
            }
            case "oom-sweep" -> {
                DefaultCategoryDataset data = new DefaultCategoryDataset();
                for (Map<String, Object> row : rows) {
                    double measured = row.get("max_tokens_before_oom") instanceof Number n ? n.doubleValue()
                            : num(row.get("max_sequence_length"));
                    data.addValue(measured, "measured (tokens at OOM, or longest run)", label(row));
                    Object predicted = row.get("predicted_max_tokens");
                    data.addValue(predicted instanceof Number n ? n.doubleValue() : num(row.get("max_length")),
                            "predicted (bounded policies: capped at max_length)", label(row));
                }
                charts.put("OOM threshold per policy", ChartFactory.createBarChart("Tokens before out of memory",
                        "policy", "tokens", data, PlotOrientation.VERTICAL, true, false, false));
            }
            case "perplexity" -> {
                XYSeriesCollection data = new XYSeriesCollection();
                Map<String, XYSeries> byPolicy = new LinkedHashMap<>();
                Set<Double> budgets = new TreeSet<>();
                Double full = null;
                for (Map<String, Object> row : rows) {
                    Map<String, Object> kv = map(row.get("kv_cache"));
                    if (kv.get("budget") instanceof Number b) {
                        budgets.add(b.doubleValue());
                        byPolicy.computeIfAbsent(String.valueOf(kv.get("policy")), k -> new XYSeries(k, true, true))
                                .add(b.doubleValue(), num(row.get("perplexity")));
                    } else if ("full".equals(kv.get("policy"))) {
                        full = num(row.get("perplexity"));
                    }
                }
                if (full != null && !budgets.isEmpty()) {
                    XYSeries f = new XYSeries("full", true, true);
                    for (double b : budgets) {
                        f.add(b, full);
                    }
                    data.addSeries(f);
                }
                byPolicy.values().forEach(data::addSeries);
                if (data.getSeriesCount() > 0) {
                    charts.put("Perplexity against budget", lines("Perplexity against KV budget",
                            "budget (slots per head per layer)", "perplexity", data));
                } else {
                    DefaultCategoryDataset bars = new DefaultCategoryDataset();
                    rows.forEach(r -> bars.addValue(num(r.get("perplexity")), "perplexity", label(r)));
                    charts.put("Perplexity per policy", ChartFactory.createBarChart("Perplexity per policy",
                            "policy", "perplexity", bars, PlotOrientation.VERTICAL, false, false, false));
                }
            }
            case "passkey" -> {
                DefaultCategoryDataset data = new DefaultCategoryDataset();
                Map<String, double[]> mean = new LinkedHashMap<>();
                for (Map<String, Object> row : rows) {
                    String key = label(row) + "\u0000" + num(row.get("context_length"));
                    double[] acc = mean.computeIfAbsent(key, k -> new double[2]);
                    acc[0] += num(row.get("accuracy"));
                    acc[1]++;
                }
                mean.forEach((key, acc) -> {
                    String[] parts = key.split("\u0000");
                    data.addValue(acc[0] / acc[1], parts[0], String.format(Locale.ROOT, "%.0f", Double.parseDouble(parts[1])));
                });
                charts.put("Pass-key accuracy against context length (mean over depths)", ChartFactory.createBarChart(
                        "Pass-key accuracy", "context length (tokens)", "accuracy", data, PlotOrientation.VERTICAL,
                        true, false, false));
                needleHeatmaps(charts, rows);
            }
            case "throughput" -> {
                XYSeriesCollection prefill = new XYSeriesCollection();
                XYSeriesCollection decode = new XYSeriesCollection();
                XYSeriesCollection aggregate = new XYSeriesCollection();
                Map<String, XYSeries[]> byPolicy = new LinkedHashMap<>();
                Map<String, XYSeries> byPolicyAndLength = new LinkedHashMap<>();
                for (Map<String, Object> row : rows) {
                    double concurrency = row.get("concurrency") == null ? 1 : num(row.get("concurrency"));
                    String atLength = label(row) + " @ " + row.get("context_length");
                    byPolicyAndLength.computeIfAbsent(atLength, k -> new XYSeries(k, true, true))
                            .add(concurrency, num(row.get("aggregate_decode_tokens_per_second")));
                    if (concurrency != 1) {
                        continue;
                    }
                    XYSeries[] s = byPolicy.computeIfAbsent(label(row),
                            k -> new XYSeries[] {new XYSeries(k, true, true), new XYSeries(k, true, true)});
                    s[0].add(num(row.get("context_length")), num(row.get("prefill_tokens_per_second")));
                    s[1].add(num(row.get("context_length")), num(row.get("decode_tokens_per_second")));
                }
                byPolicy.values().forEach(s -> {
                    prefill.addSeries(s[0]);
                    decode.addSeries(s[1]);
                });
                byPolicyAndLength.values().forEach(aggregate::addSeries);
                if (byPolicyAndLength.values().stream().anyMatch(s -> s.getItemCount() > 1)) {
                    charts.put("Aggregate decode throughput against concurrency", lines(
                            "Aggregate decode tokens/s (all sequences of a batch)", "concurrent sequences",
                            "tokens/s", aggregate));
                }
                charts.put("Decode throughput against context", lines("Decode tokens/s", "context length (tokens)",
                        "tokens/s", decode));
                charts.put("Prefill throughput against context", lines("Prefill tokens/s", "context length (tokens)",
                        "tokens/s", prefill));
            }
            case "compression-sweep" -> {
                sweepChart(charts, rows, "passkey", "Pass-key accuracy against compression ratio", "pass-key accuracy");
                sweepChart(charts, rows, "perplexity", "Perplexity against compression ratio", "perplexity");
            }
            default -> { }
        }
        return charts;
    }

    /**
     * One task of a compression sweep, as kvpress plots it: score against the share of the cache
     * removed, one line per policy (and its parameters), {@code full} as a flat reference line.
     */
    private static void sweepChart(Map<String, JFreeChart> charts, List<Map<String, Object>> rows, String task,
            String title, String score) {
        XYSeriesCollection data = new XYSeriesCollection();
        Map<String, XYSeries> byPolicy = new LinkedHashMap<>();
        Set<Double> ratios = new TreeSet<>();
        Double full = null;
        for (Map<String, Object> row : rows) {
            if (!task.equals(row.get("task")) || !(row.get("score") instanceof Number s)) {
                continue;
            }
            Map<String, Object> kv = new LinkedHashMap<>(map(row.get("kv_cache")));
            if ("full".equals(kv.get("policy"))) {
                full = s.doubleValue();
                continue;
            }
            kv.remove("budget_ratio");
            String name = kv.remove("policy") + (kv.isEmpty() ? "" : " " + kv);
            double ratio = num(row.get("compression_ratio"));
            ratios.add(ratio);
            byPolicy.computeIfAbsent(name, k -> new XYSeries(k, true, true)).add(ratio, s.doubleValue());
        }
        if (byPolicy.isEmpty()) {
            return;
        }
        if (full != null) {
            XYSeries f = new XYSeries("full", true, true);
            for (double r : ratios) {
                f.add(r, full);
            }
            data.addSeries(f);
        }
        byPolicy.values().forEach(data::addSeries);
        charts.put(title, lines(title, "compression ratio (share of the cache removed)", score, data));
    }

    /**
     * Per policy, the needle-in-a-haystack figure: context length across, depth of the key down, each
     * cell shaded by accuracy from red (0) through yellow to green (1).
     */
    private static void needleHeatmaps(Map<String, JFreeChart> charts, List<Map<String, Object>> rows) {
        List<Double> lengths = rows.stream().map(r -> num(r.get("context_length"))).distinct().sorted().toList();
        List<Double> depths = rows.stream().map(r -> num(r.get("depth"))).distinct().sorted().toList();
        Map<String, List<Map<String, Object>>> byPolicy = new LinkedHashMap<>();
        rows.forEach(r -> byPolicy.computeIfAbsent(label(r), k -> new ArrayList<>()).add(r));
        byPolicy.forEach((policy, cells) -> {
            double[][] xyz = new double[3][cells.size()];
            for (int i = 0; i < cells.size(); i++) {
                xyz[0][i] = lengths.indexOf(num(cells.get(i).get("context_length")));
                xyz[1][i] = depths.indexOf(num(cells.get(i).get("depth")));
                xyz[2][i] = num(cells.get(i).get("accuracy"));
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

    private static JFreeChart lines(String title, String x, String y, XYSeriesCollection data) {
        JFreeChart chart = ChartFactory.createXYLineChart(title, x, y, data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setRenderer(new XYLineAndShapeRenderer(true, true));
        ((NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false); // small differences stay visible
        return chart;
    }

    static String label(Map<String, Object> row) {
        return String.valueOf(row.get("policy"));
    }

    static double num(Object value) {
        return value instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> list(Object value) {
        return value instanceof List<?> l ? (List<Map<String, Object>>) l : new ArrayList<>();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object value) {
        return value instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }
}
