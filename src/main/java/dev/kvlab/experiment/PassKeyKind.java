package dev.kvlab.experiment;

import dev.kvlab.data.PassKeyDocuments;
import dev.kvlab.data.PassKeyDocuments.PassKeyDocument;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.generation.TokenListener;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jfree.chart.JFreeChart;

/**
 * {@code passkey}: retrieval accuracy (Mohtashami &amp; Jaggi 2023) per policy × {@code budgets} ×
 * {@code context_lengths} [256, 512, 1024] × {@code depths} [0, 0.5, 1]: {@code trials} [3] documents
 * of {@link PassKeyDocuments#CLASSIC_FILLER} with a five-digit key, answered greedily; a trial counts
 * when the first run of digits generated is exactly the key. Documents depend only on {@code seed} [0], so every
 * policy sees the same ones. Perplexity alone flatters sliding windows; this does not.
 */
final class PassKeyKind implements ExperimentKind {

    private static final Pattern DIGITS = Pattern.compile("\\d+");

    private final ExperimentEngine engine;
    private final int maxLength;

    PassKeyKind(ExperimentEngine engine, int maxLength) {
        this.engine = engine;
        this.maxLength = maxLength;
    }

    @Override
    public String name() {
        return "passkey";
    }

    @Override
    public List<Map<String, Object>> plan(ExperimentParams params, List<Map<String, Object>> policies) {
        List<Integer> budgets = params.integers("budgets", List.of(), 1, maxLength);
        List<Integer> lengths = params.integers("context_lengths", List.of(256, 512, 1024), 32, maxLength);
        List<Double> depths = params.numbers("depths", List.of(0.0, 0.5, 1.0), 0, 1);
        int trials = params.integer("trials", 3, 1, 100);
        int seed = params.integer("seed", 0, 0, Integer.MAX_VALUE);
        params.rejectUnknown();
        List<Map<String, Object>> cells = new ArrayList<>();
        for (Map<String, Object> policy : PolicyGrid.expand(policies, budgets.isEmpty() ? null : budgets,
                engine.model().config().architecture())) {
            for (int length : lengths) {
                for (double depth : depths) {
                    cells.add(new Cell(policy, length, depth, trials, seed).toMap());
                }
            }
        }
        return cells;
    }

    /** {@code trials} documents of {@code contextLength} tokens with the key at {@code depth}. */
    record Cell(Map<String, Object> kvCache, int contextLength, double depth, int trials, long seed) {

        static Cell of(Map<String, Object> cell) {
            CellFields f = CellFields.of("passkey", cell);
            return new Cell(f.kvCache(), f.integer("context_length"), f.decimal("depth"), f.integer("trials"),
                    f.longValue("seed"));
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = CellFields.start(kvCache);
            m.put("context_length", contextLength);
            m.put("depth", depth);
            m.put("trials", trials);
            m.put("seed", seed);
            return m;
        }
    }

    @Override
    public Map<String, Object> run(Map<String, Object> stored, Map<String, Object> params) {
        Cell cell = Cell.of(stored);
        int length = cell.contextLength();
        double depth = cell.depth();
        int trials = cell.trials();
        long seed = cell.seed();
        PassKeyDocuments documents = new PassKeyDocuments(PassKeyDocuments.CLASSIC_FILLER,
                text -> engine.generator().tokenizer().encode(text).length);
        int correct = 0;
        List<Map<String, Object>> answers = new ArrayList<>();
        for (int t = 0; t < trials; t++) {
            ExperimentEngine.checkCancelled();
            PassKeyDocument doc = documents.generate(length, depth, new SplittableRandom(seed * 1_000_003 + t));
            GenerationResult r = engine.generator().generate(new GenerationRequest(doc.prompt(), 8,
                    SamplingParams.greedy(), List.of(), engine.policy(cell.kvCache())),
                    TokenListener.NONE);
            Matcher m = DIGITS.matcher(r.text());
            String got = m.find() ? m.group() : "";
            boolean ok = got.equals(Integer.toString(doc.key()));
            correct += ok ? 1 : 0;
            answers.add(Map.of("expected", Integer.toString(doc.key()), "got", r.text(), "correct", ok));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("accuracy", (double) correct / trials);
        out.put("correct", correct);
        out.put("answers", answers);
        return out;
    }

    @Override
    public Map<String, JFreeChart> charts(List<Map<String, Object>> rows) {
        return PassKeyReport.charts(rows);
    }

    @Override
    public String reportSection(List<Map<String, Object>> rows) {
        return "<h2>Pass-key accuracy grid</h2>\n" + PassKeyReport.grid(rows);
    }
}
