package dev.kvlab.experiment;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import org.jfree.chart.JFreeChart;
import tools.jackson.databind.json.JsonMapper;

/**
 * The HTML report of an experiment: the plots its kind draws ({@link ExperimentKind#charts}) as PNGs
 * embedded as data URIs, so the page is one self-contained file, then the kind's own section (e.g. the
 * pass-key grid) and the result table.
 */
final class ExperimentReport {

    private static final int WIDTH = 900;
    private static final int HEIGHT = 480;

    private ExperimentReport() {}

    static String html(ExperimentView view, ExperimentKind kind) {
        List<Map<String, Object>> rows = view.rows();
        List<Map<String, Object>> ok = rows.stream().filter(r -> "succeeded".equals(r.get("status"))).toList();
        StringBuilder html = new StringBuilder();
        String title = "kvlab " + view.kind() + " experiment"
                + (view.experiment().name() == null ? "" : ": " + view.experiment().name());
        html.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").append(escape(title))
                .append("</title><style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
                        + "table{border-collapse:collapse;table-layout:fixed;width:100%}"
                        + "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px;overflow-wrap:anywhere}"
                        + "img{max-width:100%}</style>"
                        + "</head><body>\n<h1>").append(escape(title)).append("</h1>\n");
        ExperimentView.Progress p = view.progress();
        html.append("<p>Experiment <code>").append(escape(view.experiment().id())).append("</code>: <b>")
                .append(view.status().apiName()).append("</b>, ").append(p.done()).append(" of ").append(p.total())
                .append(" cells done (").append(p.failed()).append(" failed).</p>\n");
        for (Map.Entry<String, JFreeChart> chart : ReportCharts.charts(kind, ok).entrySet()) {
            html.append("<h2>").append(escape(chart.getKey())).append("</h2>\n<img alt=\"")
                    .append(escape(chart.getKey())).append("\" src=\"data:image/png;base64,")
                    .append(png(chart.getValue())).append("\">\n");
        }
        html.append(kind.reportSection(ok));
        html.append("<h2>Results</h2>\n").append(table(rows)).append("</body></html>\n");
        return html.toString();
    }

    private static String png(JFreeChart chart) {
        BufferedImage image = chart.createBufferedImage(WIDTH, HEIGHT);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Base64.getEncoder().encodeToString(out.toByteArray());
    }

    private static String table(List<Map<String, Object>> rows) {
        Set<String> columns = new LinkedHashSet<>();
        rows.forEach(r -> r.forEach((k, v) -> {
            if (!(v instanceof List)) {
                columns.add(k);
            }
        }));
        StringBuilder t = new StringBuilder("<table><tr>");
        columns.forEach(c -> t.append("<th>").append(escape(c)).append("</th>"));
        t.append("</tr>\n");
        for (Map<String, Object> row : rows) {
            t.append("<tr>");
            for (String c : columns) {
                Object v = row.get(c);
                String text = v instanceof Double d ? String.format(Locale.ROOT, "%.4g", d)
                        : v instanceof Map<?, ?> m ? JsonMapper.shared().writeValueAsString(m) : v == null ? "" : v.toString();
                t.append("<td>").append(escape(text)).append("</td>");
            }
            t.append("</tr>\n");
        }
        return t.append("</table>\n").toString();
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
