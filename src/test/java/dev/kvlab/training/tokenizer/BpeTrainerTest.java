package dev.kvlab.training.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BpeTrainerTest {

    @Test
    void mergesTheMostFrequentPairFirst() {
        BpeTrainer trainer = new BpeTrainer(260);
        trainer.addText("xy xy xy xy zw zw");
        BpeModel model = trainer.train();
        // words: "xy" once, " xy" three times, " zw" twice: (x,y) occurs 4 times, then (Ġ,xy) 3 times
        assertEquals(new BpeModel.Merge("x", "y"), model.merges().get(0));
        assertEquals(new BpeModel.Merge("Ġ", "xy"), model.merges().get(1));
        assertEquals(List.of("<|bos|>", "<|eos|>"), model.vocab().subList(0, 2));
        assertEquals("xy", model.vocab().get(258));
        assertEquals(260, model.vocab().size());
    }

    @Test
    void vocabularyStartsWithSpecialsThenAllBytes() {
        BpeTrainer trainer = new BpeTrainer(300);
        trainer.addText(TinyTokenizers.TEXT);
        BpeModel model = trainer.train();
        assertEquals(300, model.vocab().size());
        assertEquals(0, model.specialId(BpeTrainer.BOS));
        assertEquals(1, model.specialId(BpeTrainer.EOS));
        for (int b = 0; b < 256; b++) {
            assertEquals(String.valueOf(ByteLevelAlphabet.charOf(b)), model.vocab().get(2 + b));
        }
        assertEquals("Ġ", model.vocab().get(2 + ' '));
    }

    @Test
    void noMergeJoinsDigits() {
        BpeTrainer trainer = new BpeTrainer(400);
        for (int i = 0; i < 50; i++) {
            trainer.addText("year 1999 and 2000 and 1999 cost 12345 dollars ");
        }
        for (String token : trainer.train().vocab()) {
            assertTrue(token.codePoints().filter(Character::isDigit).count() <= 1, token);
        }
    }

    @Test
    void mergeReplacesNonOverlappingPairsLeftToRight() {
        assertArrayEquals(new int[] {9, 9}, BpeTrainer.merge(new int[] {1, 1, 1, 1}, 1, 1, 9));
        assertArrayEquals(new int[] {9, 1}, BpeTrainer.merge(new int[] {1, 1, 1}, 1, 1, 9));
        assertArrayEquals(new int[] {3, 9, 9}, BpeTrainer.merge(new int[] {3, 1, 2, 1, 2}, 1, 2, 9));
        int[] unchanged = {1, 3};
        assertEquals(unchanged, BpeTrainer.merge(unchanged, 1, 2, 9));
    }

    @Test
    void incrementalCountsGiveTheSameMergesAsRecountingEveryStep() {
        String text = TinyTokenizers.TEXT + " aaaa aaa aaaaa abab ababab " + TinyTokenizers.TEXT.toLowerCase();
        BpeTrainer trainer = new BpeTrainer(450);
        trainer.addText(text);
        assertEquals(naiveMerges(text, 450 - 258), trainer.train().merges());
    }

    @Test
    void trainingIsDeterministic() {
        BpeTrainer a = new BpeTrainer(350);
        BpeTrainer b = new BpeTrainer(350);
        a.addText(TinyTokenizers.TEXT);
        b.addText(TinyTokenizers.TEXT);
        assertEquals(a.train(), b.train());
    }

    /** Reference BPE: recount every pair before each merge; ties go to the smaller (left, right) ids. */
    private static List<BpeModel.Merge> naiveMerges(String text, int maxTokens) {
        Map<String, Integer> counts = new HashMap<>();
        PreTokenizer.forEachWord(text, w -> counts.merge(w, 1, Integer::sum));
        List<String> vocab = new ArrayList<>(List.of("<|bos|>", "<|eos|>"));
        for (int b = 0; b < 256; b++) {
            vocab.add(String.valueOf(ByteLevelAlphabet.charOf(b)));
        }
        List<int[]> words = new ArrayList<>();
        List<Integer> freq = new ArrayList<>();
        counts.forEach((w, c) -> {
            byte[] bytes = w.getBytes(StandardCharsets.UTF_8);
            int[] ids = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                ids[i] = 2 + (bytes[i] & 0xFF);
            }
            words.add(ids);
            freq.add(c);
        });
        List<BpeModel.Merge> merges = new ArrayList<>();
        while (vocab.size() < 258 + maxTokens) {
            Map<Long, Long> pairs = new HashMap<>();
            for (int w = 0; w < words.size(); w++) {
                int[] ids = words.get(w);
                for (int i = 0; i + 1 < ids.length; i++) {
                    pairs.merge(((long) ids[i] << 32) | ids[i + 1], (long) freq.get(w), Long::sum);
                }
            }
            if (pairs.isEmpty()) {
                break;
            }
            long best = -1;
            for (Map.Entry<Long, Long> e : pairs.entrySet()) {
                long count = e.getValue();
                long bestCount = best < 0 ? -1 : pairs.get(best);
                if (count > bestCount || (count == bestCount && e.getKey() < best)) {
                    best = e.getKey();
                }
            }
            int left = (int) (best >>> 32);
            int right = (int) best;
            String token = vocab.get(left) + vocab.get(right);
            int id = vocab.indexOf(token);
            if (id < 0) {
                id = vocab.size();
                vocab.add(token);
            }
            merges.add(new BpeModel.Merge(vocab.get(left), vocab.get(right)));
            for (int w = 0; w < words.size(); w++) {
                words.set(w, BpeTrainer.merge(words.get(w), left, right, id));
            }
        }
        return merges;
    }
}
