package dev.kvlab.training.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.withinPercentage;

import dev.kvlab.data.HeldOutText;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.tokenizer.TextTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The committed {@code models/kvlab-tiny} is the model its card describes: it loads the way the
 * server loads it, and its held-out perplexity on the card's slice is within 5 % of the card's
 * figure (a model retrained or swapped without regenerating the card fails here).
 */
class ShippedModelTest {
    private static final Path DIR = Path.of("models/kvlab-tiny");
    private static final Pattern SLICE_ROW =
            Pattern.compile("\\| slice: the first (\\d+) windows \\| ([\\d,]+) \\| ([\\d.]+) \\|");

    @Test
    void heldOutSlicePerplexityMatchesTheModelCard() throws Exception {
        Matcher row = SLICE_ROW.matcher(Files.readString(DIR.resolve("README.md")));
        assertThat(row.find()).as("the model card states the slice perplexity").isTrue();
        int windows = Integer.parseInt(row.group(1));
        int predicted = Integer.parseInt(row.group(2).replace(",", ""));
        double cardPerplexity = Double.parseDouble(row.group(3));

        try (TextTokenizer tokenizer = TextTokenizer.load(DIR);
                TransformerModel model = ModelLoader.load(DIR, new ModelLoader.Options("cpu", null))) {
            assertThat(model.config()).isInstanceOf(LlamaConfig.class);
            assertThat(model.config().maxPositions()).isGreaterThanOrEqualTo(1024);
            int bos = tokenizer.tokenId("<|bos|>").orElseThrow();
            int[] tokens = Evaluation.withBos(bos, tokenizer.encode(HeldOutText.builtIn()));
            Evaluation.Perplexity slice = Evaluation.perplexity(model, tokens, 1024, windows);
            assertThat(slice.tokens()).isEqualTo(predicted);
            assertThat(slice.value()).isCloseTo(cardPerplexity, withinPercentage(5));
        }
    }
}
