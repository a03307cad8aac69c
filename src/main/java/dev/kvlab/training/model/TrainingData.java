package dev.kvlab.training.model;

import dev.kvlab.data.PassKeyDocuments;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * The training stream: random windows of {@code seqLen + 1} tokens (inputs and their next-token
 * targets) from the tokenized corpus, where documents are wrapped as {@code <|bos|> … <|eos|>},
 * and, with probability {@code passKeyFraction}, windows of {@code passKeySeqLen + 1} tokens that
 * end in pass-key documents.
 *
 * <p>A pass-key window is packed with whole documents ({@code <|bos|> prompt answer <|eos|>}) of
 * log-uniform length between {@value #MIN_PASSKEY_TOKENS} tokens and the window, keys at uniform
 * depths, preceded by corpus text to fill the window. Pass-key windows may be longer than corpus
 * windows: retrieval must be learned at every position of the context, while language modelling
 * learns nearly as well from shorter windows, which cost less per token (attention is quadratic). Short documents teach the copy mechanism
 * quickly; long ones teach it to work across the whole context. Every window ends with a
 * document's answer, so no document is cut.
 *
 * <p>Deterministic: a window depends only on the random generator passed in, so a run resumed
 * from a checkpoint sees the windows the uninterrupted run would have seen.
 */
public final class TrainingData {
    /** Shortest pass-key document generated for training, in tokens. */
    public static final int MIN_PASSKEY_TOKENS = 32;

    private final int[] stream;
    private final int seqLen;
    private final int passKeySeqLen;
    private final PassKeyDocuments passKeys;
    private final Function<String, int[]> encoder;
    private final int bosId;
    private final int eosId;
    private final double passKeyFraction;

    /**
     * One training window and the target positions (indices into {@code tokens[1..]}, the predicted
     * tokens) that are pass-key answers, which the trainer may weight above the rest.
     */
    public record Window(int[] tokens, int[] answerTargets) {}

    /**
     * @param stream the tokenized corpus, documents already wrapped in bos/eos; longer than seqLen
     * @param passKeySeqLen length of pass-key windows
     * @param passKeys pass-key generator, or null for none
     * @param encoder text to token ids (no special tokens), for the pass-key documents
     */
    public TrainingData(int[] stream, int seqLen, int passKeySeqLen, PassKeyDocuments passKeys, Function<String, int[]> encoder,
            int bosId, int eosId, double passKeyFraction) {
        if (stream.length <= Math.max(seqLen, passKeySeqLen) + 1) {
            throw new IllegalArgumentException("corpus of " + stream.length + " tokens is not longer than a window of "
                    + (seqLen + 1));
        }
        if (passKeyFraction < 0 || passKeyFraction > 1 || (passKeyFraction > 0 && passKeys == null)) {
            throw new IllegalArgumentException("bad pass-key fraction " + passKeyFraction);
        }
        this.stream = stream;
        this.seqLen = seqLen;
        this.passKeySeqLen = passKeySeqLen;
        this.passKeys = passKeys;
        this.encoder = encoder;
        this.bosId = bosId;
        this.eosId = eosId;
        this.passKeyFraction = passKeyFraction;
    }

    /** Concatenates documents as {@code <|bos|> tokens <|eos|>} each. */
    public static int[] wrapDocuments(List<int[]> documents, int bosId, int eosId) {
        int total = 0;
        for (int[] d : documents) {
            total += d.length + 2;
        }
        int[] out = new int[total];
        int at = 0;
        for (int[] d : documents) {
            out[at++] = bosId;
            System.arraycopy(d, 0, out, at, d.length);
            at += d.length;
            out[at++] = eosId;
        }
        return out;
    }

    public int seqLen() {
        return seqLen;
    }

    public int passKeySeqLen() {
        return passKeySeqLen;
    }

    /** Expected tokens (predictions) per window. */
    public double meanWindowTokens() {
        return (1 - passKeyFraction) * seqLen + passKeyFraction * passKeySeqLen;
    }

    public int corpusTokens() {
        return stream.length;
    }

    /** One window: {@code seqLen + 1} corpus tokens or {@code passKeySeqLen + 1} ending in pass-key documents. */
    public int[] sample(SplittableRandom random) {
        return sampleWindow(random).tokens();
    }

    /** {@link #sample} with the positions of the pass-key answers it holds (same random draws). */
    public Window sampleWindow(SplittableRandom random) {
        if (passKeyFraction > 0 && random.nextDouble() < passKeyFraction) {
            return passKeyWindow(random);
        }
        return new Window(corpusSlice(random, seqLen + 1), new int[0]);
    }

    private int[] corpusSlice(SplittableRandom random, int length) {
        int start = random.nextInt(stream.length - length + 1);
        return Arrays.copyOfRange(stream, start, start + length);
    }

    private Window passKeyWindow(SplittableRandom random) {
        int window = passKeySeqLen + 1;
        List<Doc> docs = new ArrayList<>();
        int used = 0;
        while (window - used >= MIN_PASSKEY_TOKENS) {
            int remaining = window - used;
            int target = Math.min(remaining, logUniform(random, MIN_PASSKEY_TOKENS, passKeySeqLen));
            Doc doc = null;
            for (int attempt = 0; attempt < 4 && doc == null; attempt++) {
                Doc candidate = document(target - 4, random);
                if (candidate.tokens().length <= remaining) {
                    doc = candidate;
                } else {
                    target -= candidate.tokens().length - remaining + 4; // token counts are estimates: shrink and retry
                    if (target < MIN_PASSKEY_TOKENS) {
                        break;
                    }
                }
            }
            if (doc == null) {
                break;
            }
            docs.add(doc);
            used += doc.tokens().length;
        }
        int[] out = new int[window];
        int prefix = window - used;
        if (prefix > 0) {
            System.arraycopy(corpusSlice(random, prefix), 0, out, 0, prefix);
        }
        int at = prefix;
        List<Integer> answers = new ArrayList<>();
        for (Doc d : docs) {
            System.arraycopy(d.tokens(), 0, out, at, d.tokens().length);
            for (int i = d.answerFrom(); i < d.answerTo(); i++) {
                answers.add(at + i - 1); // window position p is predicted by target p - 1
            }
            at += d.tokens().length;
        }
        return new Window(out, answers.stream().mapToInt(Integer::intValue).toArray());
    }

    /** A document's tokens and the half-open range of its answer tokens ({@code from == to}: unknown). */
    private record Doc(int[] tokens, int answerFrom, int answerTo) {}

    /**
     * {@code <|bos|> prompt answer <|eos|>}, with the prompt about {@code promptTokens} long. The answer
     * tokens are those after the prompt's own encoding; the pre-tokenizer splits before the answer's
     * leading space, so the prompt's tokens are a prefix of the whole text's (checked, not assumed).
     */
    private Doc document(int promptTokens, SplittableRandom random) {
        PassKeyDocuments.PassKeyDocument doc = passKeys.generate(Math.max(8, promptTokens), random);
        int[] body = encoder.apply(doc.trainingText());
        int[] prompt = encoder.apply(doc.prompt());
        boolean prefix = prompt.length < body.length && Arrays.equals(prompt, 0, prompt.length, body, 0, prompt.length);
        int[] out = new int[body.length + 2];
        out[0] = bosId;
        System.arraycopy(body, 0, out, 1, body.length);
        out[out.length - 1] = eosId;
        return prefix ? new Doc(out, 1 + prompt.length, 1 + body.length) : new Doc(out, 0, 0);
    }

    private static int logUniform(SplittableRandom random, int min, int max) {
        if (max <= min) {
            return min;
        }
        return (int) Math.round(Math.exp(Math.log(min) + random.nextDouble() * (Math.log(max) - Math.log(min))));
    }
}
