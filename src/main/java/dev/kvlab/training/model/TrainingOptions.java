package dev.kvlab.training.model;

import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.model.weights.SafetensorsWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Everything the model trainer can be told on its command line ({@code --name value}, flags bare),
 * with the defaults that produced {@code models/kvlab-tiny}. {@link #usage()} lists them.
 */
public record TrainingOptions(
        Path out,
        Path tokenizer,
        Path corpusCache,
        Path checkpointDir,
        boolean resume,
        boolean evalOnly,
        int steps,
        int seqLen,
        int passkeySeqLen,
        double minutes,
        int accum,
        double lr,
        double minLrRatio,
        int warmup,
        double weightDecay,
        double beta1,
        double beta2,
        double clip,
        int hidden,
        int layers,
        int heads,
        int kvHeads,
        int intermediate,
        int maxPositions,
        double ropeTheta,
        double passkeyFraction,
        double answerWeight,
        int logEvery,
        int checkpointEvery,
        double checkpointMinutes,
        long seed,
        int evalTrials,
        int evalWindows,
        SafetensorsWriter.Dtype saveDtype) {

    private static final Map<String, String> DEFAULTS = defaults();

    private static Map<String, String> defaults() {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("out", "models/kvlab-tiny");
        d.put("tokenizer", "models/kvlab-tiny/tokenizer.json");
        d.put("corpus-cache", "data/corpus");
        d.put("checkpoint-dir", "data/train/kvlab-tiny");
        d.put("resume", "false");
        d.put("eval-only", "false");
        d.put("steps", "1000");
        d.put("minutes", "0");
        d.put("seq-len", "512");
        d.put("passkey-seq-len", "1024");
        d.put("accum", "4");
        d.put("lr", "2e-3");
        d.put("min-lr-ratio", "0.1");
        d.put("warmup", "50");
        d.put("weight-decay", "0.1");
        d.put("beta1", "0.9");
        d.put("beta2", "0.95");
        d.put("clip", "1.0");
        d.put("hidden", "256");
        d.put("layers", "6");
        d.put("heads", "8");
        d.put("kv-heads", "2");
        d.put("intermediate", "704");
        d.put("max-positions", "1024");
        d.put("rope-theta", "10000");
        d.put("passkey-fraction", "0.25");
        d.put("answer-weight", "1");
        d.put("log-every", "10");
        d.put("checkpoint-every", "0");
        d.put("checkpoint-minutes", "5");
        d.put("seed", "1234");
        d.put("eval-trials", "25");
        d.put("eval-windows", "0");
        d.put("save-dtype", "f32");
        return d;
    }

    public static TrainingOptions parse(String... args) {
        Map<String, String> v = new LinkedHashMap<>(DEFAULTS);
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.isBlank()) {
                continue;
            }
            if (!arg.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument '" + arg + "'\n" + usage());
            }
            String name = arg.substring(2);
            String value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (!DEFAULTS.containsKey(name)) {
                throw new IllegalArgumentException("unknown option --" + name + "\n" + usage());
            }
            boolean flag = DEFAULTS.get(name).equals("false") || DEFAULTS.get(name).equals("true");
            if (value == null) {
                if (flag) {
                    value = "true";
                } else if (i + 1 < args.length) {
                    value = args[++i];
                } else {
                    throw new IllegalArgumentException("--" + name + " needs a value");
                }
            }
            v.put(name, value);
        }
        try {
            return new TrainingOptions(
                    Path.of(v.get("out")), Path.of(v.get("tokenizer")), Path.of(v.get("corpus-cache")),
                    Path.of(v.get("checkpoint-dir")), Boolean.parseBoolean(v.get("resume")),
                    Boolean.parseBoolean(v.get("eval-only")),
                    positive(v, "steps"), positive(v, "seq-len"), positive(v, "passkey-seq-len"),
                    Double.parseDouble(v.get("minutes")), positive(v, "accum"),
                    Double.parseDouble(v.get("lr")), Double.parseDouble(v.get("min-lr-ratio")),
                    Integer.parseInt(v.get("warmup")), Double.parseDouble(v.get("weight-decay")),
                    Double.parseDouble(v.get("beta1")), Double.parseDouble(v.get("beta2")),
                    Double.parseDouble(v.get("clip")),
                    positive(v, "hidden"), positive(v, "layers"), positive(v, "heads"),
                    positive(v, "kv-heads"), positive(v, "intermediate"), positive(v, "max-positions"),
                    Double.parseDouble(v.get("rope-theta")), Double.parseDouble(v.get("passkey-fraction")),
                    atLeastOne(v, "answer-weight"), positive(v, "log-every"), Integer.parseInt(v.get("checkpoint-every")),
                    Double.parseDouble(v.get("checkpoint-minutes")), Long.parseLong(v.get("seed")),
                    Integer.parseInt(v.get("eval-trials")), Integer.parseInt(v.get("eval-windows")),
                    SafetensorsWriter.Dtype.valueOf(v.get("save-dtype").toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + "\n" + usage(), e);
        }
    }

    private static int positive(Map<String, String> v, String name) {
        int n = Integer.parseInt(v.get(name));
        if (n <= 0) {
            throw new IllegalArgumentException("--" + name + " must be positive, got " + n);
        }
        return n;
    }

    private static double atLeastOne(Map<String, String> v, String name) {
        double x = Double.parseDouble(v.get(name));
        if (!(x >= 1)) {
            throw new IllegalArgumentException("--" + name + " must be at least 1, got " + v.get(name));
        }
        return x;
    }

    /** The model shape these options describe, as config.json will state it. */
    public LlamaConfig modelConfig(int vocabSize) {
        if (hidden % heads != 0 || heads % kvHeads != 0 || (hidden / heads) % 2 != 0) {
            throw new IllegalArgumentException("hidden " + hidden + " / heads " + heads + " / kv heads " + kvHeads
                    + " do not give an even head dim shared by whole groups");
        }
        return new LlamaConfig(vocabSize, hidden, intermediate, layers, heads, kvHeads, hidden / heads, maxPositions, 1e-5,
                ropeTheta, null, false, true);
    }

    public static String usage() {
        StringBuilder s = new StringBuilder("options (default):");
        DEFAULTS.forEach((k, d) -> s.append("\n  --").append(k).append(" (").append(d).append(')'));
        return s.toString();
    }
}
