package dev.kvlab.bench;

import dev.kvlab.data.HeldOutText;
import dev.kvlab.data.PassKeyDocuments;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.tokenizer.TextTokenizer;
import dev.kvlab.training.model.Evaluation;
import java.nio.file.Path;

/**
 * Pass-key accuracy (full cache, greedy) of a model folder by context length, from 64 tokens up,
 * with held-out filler: where retrieval breaks down tells whether a model has not learned to copy at
 * all (fails even at 64) or only loses the key over distance. A harness for training work; the
 * model card's figures come from the training command's own evaluation.
 *
 * <pre>{@code ./mvnw -q -Pbench -Dbench.main=dev.kvlab.bench.PassKeyByLength -Dbench.args="models/kvlab-tiny [trials]"}</pre>
 */
public final class PassKeyByLength {
    private static final int[] LENGTHS = {64, 128, 256, 512, 1024};

    private PassKeyByLength() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 && !args[0].isBlank() ? args[0] : "models/kvlab-tiny");
        int trials = args.length > 1 ? Integer.parseInt(args[1]) : 25;
        try (TextTokenizer tokenizer = TextTokenizer.load(dir);
                TransformerModel model = ModelLoader.load(dir, new ModelLoader.Options("cpu", null))) {
            int bos = tokenizer.tokenId("<|bos|>").orElseThrow();
            PassKeyDocuments filler = new PassKeyDocuments(PassKeyDocuments.sentences(HeldOutText.builtIn()),
                    s -> tokenizer.encode(s).length);
            for (int length : LENGTHS) {
                if (length > model.config().maxPositions()) {
                    break;
                }
                System.out.println(Evaluation.passKey(model, tokenizer, filler, "held-out", bos, length, trials, length));
            }
        }
    }
}
