package dev.kvlab.training.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.data.PassKeyDocuments;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.tokenizer.TextTokenizer;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The figures the model card reports, computed through the inference forward pass with a full
 * cache: held-out perplexity and pass-key retrieval accuracy.
 *
 * <p><b>Perplexity</b>: the text is tokenized, {@code <|bos|>} is prepended, and the token stream
 * is cut into consecutive non-overlapping windows of {@code window + 1} tokens that share their
 * boundary token; each window is one fresh forward pass, predicting its tokens 2…n from the tokens
 * before them in the window. PPL = exp(mean NLL over all predicted tokens).
 *
 * <p><b>Pass-key</b>: for each trial a document of about {@code contextTokens} tokens (prompt plus
 * answer) with the key at depth (i + ½)/trials; the prompt, after {@code <|bos|>}, is prefilled and
 * up to 8 tokens are decoded greedily; a trial is correct when the decoded text starts with the
 * space and the five digits of the key and no further digit.
 */
public final class Evaluation {
    /** Tokens decoded greedily after a pass-key prompt. */
    static final int ANSWER_TOKENS = 8;

    private Evaluation() {}

    /**
     * Per-token negative log-likelihood of {@code targets} under {@code logits}.
     *
     * @param logits (T, vocab), f32
     * @return (T), f32, in the logits' manager (the caller's scope)
     */
    public static NDArray tokenNll(NDArray logits, int[] targets) {
        long[] ids = new long[targets.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = targets[i];
        }
        NDArray index = logits.getManager().create(ids, new Shape(ids.length, 1));
        return logits.logSoftmax(-1).gather(index, 1).neg().reshape(ids.length);
    }

    /**
     * Perplexity of a token stream.
     *
     * @param nll summed negative log-likelihood (nats)
     * @param tokens predicted tokens
     * @param windows forward passes
     */
    public record Perplexity(double nll, long tokens, int windows) {
        public double value() {
            return Math.exp(nll / tokens);
        }

        public double meanNll() {
            return nll / tokens;
        }
    }

    /**
     * Perplexity of {@code tokens} (bos already prepended) in windows of {@code window} predictions,
     * stopping after {@code maxWindows} windows (0 = all).
     */
    public static Perplexity perplexity(TransformerModel model, int[] tokens, int window, int maxWindows) {
        double nll = 0;
        long count = 0;
        int windows = 0;
        for (int start = 0; start + 1 < tokens.length; start += window) {
            if (maxWindows > 0 && windows == maxWindows) {
                break;
            }
            int end = Math.min(tokens.length, start + window + 1);
            int[] inputs = Arrays.copyOfRange(tokens, start, end - 1);
            int[] targets = Arrays.copyOfRange(tokens, start + 1, end);
            try (KvCache cache = model.newCache(new FullPolicy(), inputs.length); NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray logits = model.forward(inputs, cache, true);
                nll += tokenNll(logits, targets).sum().getFloat();
            }
            count += targets.length;
            windows++;
        }
        return new Perplexity(nll, count, windows);
    }

    /** {@code <|bos|>} followed by the text's tokens. */
    public static int[] withBos(int bosId, int[] tokens) {
        int[] out = new int[tokens.length + 1];
        out[0] = bosId;
        System.arraycopy(tokens, 0, out, 1, tokens.length);
        return out;
    }

    /** Pass-key accuracy at one context length. */
    public record PassKeyResult(String filler, int contextTokens, int trials, int correct, double meanPromptTokens) {
        public double accuracy() {
            return trials == 0 ? 0 : (double) correct / trials;
        }

        @Override
        public String toString() {
            return String.format("pass-key %-9s %5d tokens: %3d/%-3d = %5.1f %% (mean prompt %.0f tokens)", filler,
                    contextTokens, correct, trials, 100 * accuracy(), meanPromptTokens);
        }
    }

    /**
     * Greedy pass-key retrieval with a full cache.
     *
     * @param contextTokens prompt plus answer, in tokens (approximately: whole filler sentences)
     */
    public static PassKeyResult passKey(TransformerModel model, TextTokenizer tokenizer, PassKeyDocuments documents,
            String fillerName, int bosId, int contextTokens, int trials, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int correct = 0;
        long promptTokens = 0;
        for (int i = 0; i < trials; i++) {
            double depth = (i + 0.5) / trials;
            PassKeyDocuments.PassKeyDocument doc = documents.generate(contextTokens - ANSWER_TOKENS, depth, random);
            int[] prompt = withBos(bosId, tokenizer.encode(doc.prompt()));
            promptTokens += prompt.length;
            String answer = tokenizer.decode(greedy(model, prompt, ANSWER_TOKENS));
            if (isCorrect(answer, doc.key())) {
                correct++;
            }
        }
        return new PassKeyResult(fillerName, contextTokens, trials, correct, trials == 0 ? 0 : (double) promptTokens / trials);
    }

    /** The answer is right when it reads " 48213" and is not followed by another digit. */
    static boolean isCorrect(String answer, int key) {
        String expected = " " + key;
        return answer.startsWith(expected)
                && (answer.length() == expected.length() || !Character.isDigit(answer.charAt(expected.length())));
    }

    /** Prefills {@code prompt} and decodes {@code count} tokens greedily. */
    static int[] greedy(TransformerModel model, int[] prompt, int count) {
        int[] out = new int[count];
        try (KvCache cache = model.newCache(new FullPolicy(), prompt.length)) {
            int[] next = prompt;
            for (int i = 0; i < count; i++) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    out[i] = argmax(model.forward(next, cache, false).toFloatArray());
                }
                next = new int[] {out[i]};
            }
        }
        return out;
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
