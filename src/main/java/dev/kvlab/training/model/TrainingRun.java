package dev.kvlab.training.model;

import dev.kvlab.data.PassKeyDocuments;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.tokenizer.TextTokenizer;
import dev.kvlab.training.corpus.Corpus;
import dev.kvlab.training.corpus.Document;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * What {@code ./mvnw -Ptrain} runs: prepares the data, trains (or resumes), saves the model folder,
 * evaluates the saved folder as the server will load it, and writes the model card.
 */
final class TrainingRun {
    static final int[] PASSKEY_LENGTHS = {512, 1024};
    /** Windows of the held-out "slice" figure, the cheap check a test can repeat. */
    static final int SLICE_WINDOWS = 8;

    private TrainingRun() {}

    /** Evaluation figures of a saved model. */
    record Results(Evaluation.Perplexity heldOut, Evaluation.Perplexity slice, int window,
            List<Evaluation.PassKeyResult> passKeys, double seconds) {}

    static void run(TrainingOptions o, String args, Consumer<String> log) throws IOException {
        Path tokenizerFile = o.evalOnly() ? o.tokenizer() : snapshotTokenizer(o, log);
        try (TextTokenizer tokenizer = TextTokenizer.load(tokenizerFile)) {
            int bos = special(tokenizer, "<|bos|>");
            int eos = special(tokenizer, "<|eos|>");
            LlamaConfig config = o.modelConfig(tokenizer.vocabSize());
            String heldOut = LlamaTrainer.heldOutText(o);
            if (o.evalOnly()) {
                Results r = evaluate(o.out(), tokenizer, heldOut, bos, o.evalTrials(), o.evalWindows(), log);
                log.accept(summary(r));
                return;
            }
            long prepStart = System.nanoTime();
            Corpus corpus = Corpus.fetch(o.corpusCache());
            List<Document> train = corpus.train();
            int[] stream = TrainingData.wrapDocuments(LlamaTrainer.encodeAll(tokenizer, train), bos, eos);
            PassKeyDocuments passKeys = LlamaTrainer.passKeys(Corpus.join(train), tokenizer);
            TrainingData data = new TrainingData(stream, o.seqLen(), o.passkeySeqLen(), passKeys, tokenizer::encode,
                    bos, eos, o.passkeyFraction());
            log.accept(String.format(Locale.ROOT, "data: %s; %,d corpus tokens; pass-key fraction %.2f; prepared in %.1f s",
                    Corpus.describe("train", train), stream.length, o.passkeyFraction(),
                    (System.nanoTime() - prepStart) / 1e9));
            Checkpoints checkpoints = new Checkpoints(o.checkpointDir(), tokenizerFile, bos, eos, args);
            boolean resume = o.resume() && checkpoints.exists();
            double seconds;
            long tokens;
            int steps;
            long parameters;
            try (LlamaTrainer trainer = resume ? checkpoints.resume(o, config, data) : new LlamaTrainer(o, config, data)) {
                parameters = trainer.parameters().parameterCount();
                log.accept(String.format(Locale.ROOT, "model: %s; %,d parameters (%.1f MB as %s)",
                        HfModelFiles.describe(config), parameters,
                        HfModelFiles.weightBytes(parameters, o.saveDtype()) / 1e6, o.saveDtype()));
                double perStep = o.accum() * data.meanWindowTokens();
                log.accept(String.format(Locale.ROOT, "training: %s, %d windows per step (%d tokens, %d for pass-key "
                                + "windows; %.0f tokens per step on average)%s",
                        o.minutes() > 0 ? String.format(Locale.ROOT, "%.1f minutes (at most %d steps)", o.minutes(), o.steps())
                                : String.format(Locale.ROOT, "%d steps = %,.0f tokens = %.2f epochs", o.steps(),
                                        o.steps() * perStep, o.steps() * perStep / stream.length),
                        o.accum(), o.seqLen(), o.passkeySeqLen(), perStep,
                        resume ? "; resumed at step " + trainer.step() : ""));
                trainer.setProbe(probe(tokenizer, heldOut, bos));
                trainer.train(log, checkpoints);
                trainer.saveModel(o.out(), tokenizerFile, bos, eos, o.saveDtype());
                seconds = trainer.trainingSeconds();
                tokens = trainer.tokensSeen();
                steps = trainer.step();
            }
            log.accept(String.format(Locale.ROOT, "trained %,d tokens in %s; saved %s", tokens,
                    LlamaTrainer.clock(seconds), o.out()));
            Results r = evaluate(o.out(), tokenizer, heldOut, bos, o.evalTrials(), o.evalWindows(), log);
            log.accept(summary(r));
            ModelCard card = new ModelCard(o, args, config, parameters, stream.length, steps, tokens, seconds, r,
                    Files.size(o.out().resolve("model.safetensors")));
            Files.writeString(o.out().resolve("README.md"), card.markdown());
            log.accept("wrote " + o.out().resolve("README.md"));
        }
    }

    /**
     * After each checkpoint: perplexity of the first 2 held-out windows of 512 tokens and pass-key
     * accuracy at 512 tokens (8 trials per filler), a few seconds' work.
     */
    private static java.util.function.Function<LlamaTrainer, String> probe(TextTokenizer tokenizer, String heldOut,
            int bos) {
        int[] tokens = Evaluation.withBos(bos, tokenizer.encode(heldOut.substring(0, Math.min(heldOut.length(), 20_000))));
        PassKeyDocuments heldOutFiller = LlamaTrainer.passKeys(heldOut, tokenizer);
        PassKeyDocuments classic = new PassKeyDocuments(PassKeyDocuments.CLASSIC_FILLER, s -> tokenizer.encode(s).length);
        return trainer -> {
            long start = System.nanoTime();
            try (TransformerModel model = trainer.inferenceModel()) {
                Evaluation.Perplexity ppl = Evaluation.perplexity(model, tokens, 512, 2);
                Evaluation.PassKeyResult a = Evaluation.passKey(model, tokenizer, heldOutFiller, "held-out", bos, 512, 8, 11);
                Evaluation.PassKeyResult b = Evaluation.passKey(model, tokenizer, classic, "classic", bos, 512, 8, 13);
                return String.format(Locale.ROOT, "probe at step %d: held-out PPL %.1f (first %,d tokens); pass-key at 512: "
                                + "held-out filler %d/8, classic filler %d/8 (%.1f s)", trainer.step(), ppl.value(),
                        ppl.tokens(), a.correct(), b.correct(), (System.nanoTime() - start) / 1e9);
            }
        };
    }

    /**
     * The run trains and saves with a copy of the tokenizer taken when it starts (kept beside the
     * checkpoints), so that a tokenizer rewritten meanwhile cannot end up beside weights trained
     * with another one.
     */
    private static Path snapshotTokenizer(TrainingOptions o, Consumer<String> log) throws IOException {
        Path snapshot = o.checkpointDir().resolve("tokenizer.json");
        Files.createDirectories(o.checkpointDir());
        boolean resuming = o.resume() && Files.isRegularFile(snapshot);
        if (!resuming) {
            Files.copy(o.tokenizer(), snapshot, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } else if (Files.mismatch(snapshot, o.tokenizer()) != -1) {
            log.accept("WARNING: " + o.tokenizer() + " changed since the run started; continuing with the tokenizer "
                    + "the checkpoints were trained with (" + snapshot + ")");
        }
        return snapshot;
    }

    private static int special(TextTokenizer tokenizer, String token) {
        return tokenizer.tokenId(token).orElseThrow(
                () -> new IllegalArgumentException("the tokenizer has no " + token + " token"));
    }

    /** Evaluates the saved folder, loaded the way the server loads it. */
    static Results evaluate(Path modelDir, TextTokenizer tokenizer, String heldOutText, int bos, int trials,
            int maxWindows, Consumer<String> log) {
        long start = System.nanoTime();
        try (TransformerModel model = LlamaTrainer.load(modelDir)) {
            int window = Math.min(1024, model.config().maxPositions());
            int[] tokens = Evaluation.withBos(bos, tokenizer.encode(heldOutText));
            Evaluation.Perplexity slice = Evaluation.perplexity(model, tokens, window, SLICE_WINDOWS);
            log.accept(String.format(Locale.ROOT, "held-out slice (first %d windows of %d): PPL %.2f", SLICE_WINDOWS,
                    window, slice.value()));
            Evaluation.Perplexity all = Evaluation.perplexity(model, tokens, window, maxWindows);
            log.accept(String.format(Locale.ROOT, "held-out (%,d tokens): PPL %.2f", all.tokens(), all.value()));
            List<Evaluation.PassKeyResult> passKeys = new ArrayList<>();
            PassKeyDocuments heldOutFiller = LlamaTrainer.passKeys(heldOutText, tokenizer);
            PassKeyDocuments classic = new PassKeyDocuments(PassKeyDocuments.CLASSIC_FILLER,
                    s -> tokenizer.encode(s).length);
            for (int length : PASSKEY_LENGTHS) {
                for (var filler : List.of(new Object[] {"held-out", heldOutFiller}, new Object[] {"classic", classic})) {
                    Evaluation.PassKeyResult r = Evaluation.passKey(model, tokenizer, (PassKeyDocuments) filler[1],
                            (String) filler[0], bos, length, trials, 7919L * length);
                    log.accept(r.toString());
                    passKeys.add(r);
                }
            }
            return new Results(all, slice, window, passKeys, (System.nanoTime() - start) / 1e9);
        }
    }

    static String summary(Results r) {
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT,
                "RESULTS: held-out PPL %.2f (%,d tokens, windows of %d); slice PPL %.2f (first %d windows)",
                r.heldOut().value(), r.heldOut().tokens(), r.window(), r.slice().value(), r.slice().windows()));
        for (Evaluation.PassKeyResult p : r.passKeys()) {
            s.append("\n  ").append(p);
        }
        s.append(String.format(Locale.ROOT, "\n  (evaluation took %.0f s)", r.seconds()));
        return s.toString();
    }
}
