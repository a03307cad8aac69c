package dev.kvlab.training.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Learns a byte-level BPE vocabulary, like Hugging Face's ByteLevel BPE trainer: words come from
 * {@link PreTokenizer} (digits one per word), start as their UTF-8 bytes, and the most frequent
 * adjacent pair is merged until the vocabulary is full.
 *
 * <p>Ids: the special tokens first ({@code <|bos|>} = 0, {@code <|eos|>} = 1 by default), then
 * the 256 bytes in byte order, then merges in the order learned. Pair counts are kept
 * incrementally: a merge only revisits the words that contain the pair (an index from pair to
 * words), and a max-heap with lazy re-insertion picks the next pair; ties go to the pair of
 * smaller ids, so training is deterministic.
 */
public final class BpeTrainer {

    /** Beginning of a document. */
    public static final String BOS = "<|bos|>";
    /** End of a document. */
    public static final String EOS = "<|eos|>";
    public static final List<String> DEFAULT_SPECIAL_TOKENS = List.of(BOS, EOS);

    private final int vocabSize;
    private final List<String> specialTokens;
    private final Map<String, long[]> wordCounts = new HashMap<>();

    public BpeTrainer(int vocabSize) {
        this(vocabSize, DEFAULT_SPECIAL_TOKENS);
    }

    public BpeTrainer(int vocabSize, List<String> specialTokens) {
        if (vocabSize < specialTokens.size() + 256) {
            throw new IllegalArgumentException("vocab size " + vocabSize + " < specials + 256 bytes");
        }
        this.vocabSize = vocabSize;
        this.specialTokens = List.copyOf(specialTokens);
    }

    /** Counts the words of one document. */
    public void addText(String text) {
        PreTokenizer.forEachWord(text, word -> wordCounts.computeIfAbsent(word, w -> new long[1])[0]++);
    }

    /** Number of distinct words counted so far. */
    public int distinctWords() {
        return wordCounts.size();
    }

    /** Learns merges until the vocabulary holds {@code vocabSize} tokens or no pair is left. */
    public BpeModel train() {
        int base = specialTokens.size();
        List<String> vocab = new ArrayList<>(specialTokens);
        for (int b = 0; b < 256; b++) {
            vocab.add(String.valueOf(ByteLevelAlphabet.charOf(b)));
        }
        Map<String, Integer> ids = new HashMap<>();
        for (int id = 0; id < vocab.size(); id++) {
            ids.put(vocab.get(id), id);
        }
        int[][] words = new int[wordCounts.size()][];
        long[] counts = new long[words.length];
        int n = 0;
        for (Map.Entry<String, long[]> e : wordCounts.entrySet().stream().sorted(Map.Entry.comparingByKey()).toList()) {
            byte[] bytes = e.getKey().getBytes(StandardCharsets.UTF_8);
            int[] symbols = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                symbols[i] = base + (bytes[i] & 0xFF);
            }
            words[n] = symbols;
            counts[n++] = e.getValue()[0];
        }

        Map<Long, PairStat> pairs = new HashMap<>();
        for (int w = 0; w < words.length; w++) {
            addPairs(pairs, words, counts, w, -1, null);
        }
        PriorityQueue<Candidate> queue = new PriorityQueue<>(Candidate.ORDER);
        pairs.forEach((pair, stat) -> queue.add(new Candidate(pair, stat.count)));

        List<BpeModel.Merge> merges = new ArrayList<>();
        int[] lastVisit = new int[words.length];
        Arrays.fill(lastVisit, -1);
        while (vocab.size() < vocabSize && !queue.isEmpty()) {
            Candidate top = queue.poll();
            PairStat stat = pairs.get(top.pair);
            long current = stat == null ? 0 : stat.count;
            if (current != top.count) {
                if (current > 0) {
                    queue.add(new Candidate(top.pair, current));
                }
                continue;
            }
            int left = (int) (top.pair >>> 32);
            int right = (int) top.pair;
            String token = vocab.get(left) + vocab.get(right);
            Integer known = ids.get(token); // (ab)c and a(bc) spell the same token: one id, two merges
            int newId = known != null ? known : vocab.size();
            if (known == null) {
                vocab.add(token);
                ids.put(token, newId);
            }
            merges.add(new BpeModel.Merge(vocab.get(left), vocab.get(right)));

            Map<Long, PairStat> gained = new HashMap<>();
            int mergeIndex = merges.size();
            for (int k = 0; k < stat.size; k++) {
                int w = stat.words[k];
                if (lastVisit[w] == mergeIndex) {
                    continue;
                }
                lastVisit[w] = mergeIndex;
                int[] merged = merge(words[w], left, right, newId);
                if (merged == words[w]) {
                    continue; // stale index entry: an earlier merge removed the pair from this word
                }
                removePairs(pairs, words[w], counts[w]);
                words[w] = merged;
                addPairs(pairs, words, counts, w, newId, gained);
            }
            pairs.remove(top.pair);
            gained.forEach((pair, s) -> queue.add(new Candidate(pair, s.count)));
        }
        return new BpeModel(specialTokens, vocab, merges);
    }

    private static void removePairs(Map<Long, PairStat> pairs, int[] word, long count) {
        for (int i = 0; i + 1 < word.length; i++) {
            pairs.get(key(word[i], word[i + 1])).count -= count;
        }
    }

    /** Adds word {@code w}'s pairs; those containing {@code newId} are also reported in {@code gained}. */
    private static void addPairs(Map<Long, PairStat> pairs, int[][] words, long[] counts, int w, int newId,
                                 Map<Long, PairStat> gained) {
        int[] word = words[w];
        for (int i = 0; i + 1 < word.length; i++) {
            long pair = key(word[i], word[i + 1]);
            PairStat stat = pairs.computeIfAbsent(pair, p -> new PairStat());
            stat.count += counts[w];
            stat.addWord(w);
            if (gained != null && (word[i] == newId || word[i + 1] == newId)) {
                gained.put(pair, stat);
            }
        }
    }

    /** {@code word} with every non-overlapping {@code left right}, left to right, replaced by {@code id}. */
    static int[] merge(int[] word, int left, int right, int id) {
        int[] out = null;
        int n = 0;
        for (int i = 0; i < word.length; i++) {
            if (i + 1 < word.length && word[i] == left && word[i + 1] == right) {
                if (out == null) {
                    out = Arrays.copyOf(word, word.length - 1);
                    n = i;
                }
                out[n++] = id;
                i++;
            } else if (out != null) {
                out[n++] = word[i];
            }
        }
        return out == null ? word : Arrays.copyOf(out, n);
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    /** How often a pair occurs, and the words it occurs in (may hold stale entries). */
    private static final class PairStat {
        long count;
        int[] words = new int[4];
        int size;

        void addWord(int w) {
            if (size > 0 && words[size - 1] == w) {
                return;
            }
            if (size == words.length) {
                words = Arrays.copyOf(words, size * 2);
            }
            words[size++] = w;
        }
    }

    /** A heap entry: a pair and its count when pushed; stale once the count has changed. */
    private record Candidate(long pair, long count) {
        static final Comparator<Candidate> ORDER = Comparator.comparingLong(Candidate::count).reversed()
                .thenComparingLong(Candidate::pair);
    }
}
