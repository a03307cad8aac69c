package dev.kvlab.experiment;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Stroke;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.DefaultDrawingSupplier;
import org.jfree.chart.plot.Plot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * What the experiment kinds draw their report charts with ({@link ExperimentKind#charts}), and the one
 * style they all get: what {@link ExperimentReport} embeds as PNG images.
 */
final class ReportCharts {

    private ReportCharts() {}

    /**
     * The report's charts, styled alike: a white plot area, light grid lines, flat bars, and the
     * Okabe–Ito colour-blind-safe palette without its yellow (unreadable on white), black first.
     */
    static Map<String, JFreeChart> charts(ExperimentKind kind, List<Map<String, Object>> rows) {
        Map<String, JFreeChart> charts = new LinkedHashMap<>();
        if (!rows.isEmpty()) {
            charts.putAll(kind.charts(rows));
        }
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

    /** A vertical bar chart of {@code data}, categories across. */
    static JFreeChart bars(String title, String x, String y, DefaultCategoryDataset data, boolean legend) {
        return ChartFactory.createBarChart(title, x, y, data, PlotOrientation.VERTICAL, legend, false, false);
    }

    /** A line chart with a marker at each point, its value axis fitted to the data. */
    static JFreeChart lines(String title, String x, String y, XYSeriesCollection data) {
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
    static List<Map<String, Object>> list(Object value) {
        return value instanceof List<?> l ? (List<Map<String, Object>>) l : new ArrayList<>();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object value) {
        return value instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }
}
