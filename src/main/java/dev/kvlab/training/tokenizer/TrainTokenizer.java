package dev.kvlab.training.tokenizer;

import dev.kvlab.tokenizer.TextTokenizer;
import dev.kvlab.training.corpus.Corpus;
import dev.kvlab.training.corpus.Document;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Command line: trains the byte-level BPE tokenizer on the corpus's training documents, writes
 * {@code tokenizer.json}, then checks with DJL that the held-out text round-trips exactly and
 * prints tokens per character.
 *
 * <p>Arguments: {@code [output [vocabSize [corpusCache]]]}; output is a {@code .json} file or a
 * model folder (default {@code models/kvlab-tiny}), vocabSize defaults to 4096, the cache to
 * {@code data/corpus}.
 */
public final class TrainTokenizer {

    public static final int DEFAULT_VOCAB_SIZE = 4096;

    private TrainTokenizer() {}

    public static void main(String[] args) throws IOException {
        Path output = Path.of(args.length > 0 ? args[0] : "models/kvlab-tiny");
        int vocabSize = args.length > 1 ? Integer.parseInt(args[1]) : DEFAULT_VOCAB_SIZE;
        Path cache = args.length > 2 ? Path.of(args[2]) : Corpus.DEFAULT_CACHE;
        Path file = output.toString().endsWith(".json") ? output : output.resolve("tokenizer.json");

        Corpus corpus = Corpus.fetch(cache);
        System.out.println(Corpus.describe("train", corpus.train()));
        System.out.println(Corpus.describe("held-out", corpus.heldOut()));

        long start = System.nanoTime();
        BpeModel model = train(corpus, vocabSize);
        double seconds = (System.nanoTime() - start) / 1e9;
        TokenizerJsonWriter.write(model, file);
        System.out.printf("trained %d tokens (%d merges) in %.1f s -> %s%n",
                model.vocab().size(), model.merges().size(), seconds, file);

        try (TextTokenizer tokenizer = TextTokenizer.load(file)) {
            String heldOut = corpus.heldOutText();
            int[] ids = tokenizer.encode(heldOut);
            boolean exact = tokenizer.decode(ids).equals(heldOut);
            System.out.printf("held-out: %,d chars -> %,d tokens, %.4f tokens/char, round-trip %s%n",
                    heldOut.length(), ids.length, (double) ids.length / heldOut.length(), exact ? "exact" : "FAILED");
            int[] digits = tokenizer.encode("12345");
            System.out.println("\"12345\" -> " + Arrays.toString(digits));
            if (!exact) {
                System.exit(1);
            }
        }
    }

    /** Trains a tokenizer of {@code vocabSize} tokens on {@code corpus}'s training documents. */
    public static BpeModel train(Corpus corpus, int vocabSize) {
        BpeTrainer trainer = new BpeTrainer(vocabSize);
        for (Document doc : corpus.train()) {
            trainer.addText(doc.text());
        }
        return trainer.train();
    }

    /**
     * The model trainer's entry: returns {@code modelDir/tokenizer.json}, first training it on
     * {@code corpus} and writing it with {@code tokenizer_config.json} if the folder has none.
     */
    public static Path ensureIn(Path modelDir, Corpus corpus, int vocabSize, int modelMaxLength) throws IOException {
        Path file = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            TokenizerJsonWriter.writeToModelFolder(train(corpus, vocabSize), modelDir, modelMaxLength);
        }
        return file;
    }
}
