package dev.kvlab.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.testing.TinyModel;
import dev.kvlab.testing.TinyModels;
import dev.kvlab.tokenizer.TextTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The generation loop on a tiny random Llama: limits, determinism, stop strings, eos, streaming. */
class GeneratorTest {
    @TempDir
    static Path dir;

    static TransformerModel model;
    static TextTokenizer tokenizer;
    static TinyModel tiny;

    @BeforeAll
    static void load() {
        tiny = TinyModels.llama().seed(21).writeTo(dir.resolve("llama"));
        model = ModelLoader.load(tiny.dir(), new ModelLoader.Options("cpu", null));
        tokenizer = TextTokenizer.load(tiny.tokenizerJson());
    }

    @AfterAll
    static void close() {
        model.close();
        tokenizer.close();
    }

    private static Generator generator(int[] eos) {
        return new Generator(model, tokenizer, eos, TinyModels.BOS_ID, 4);
    }

    private static GenerationRequest request(int maxNew, SamplingParams sampling, List<String> stop) {
        return new GenerationRequest("the cat sat on the mat", maxNew, sampling, stop, new FullPolicy());
    }

    @Test
    void producesExactlyMaxNewTokensWithoutEos() {
        GenerationResult r = generator(new int[0]).generate(request(12, SamplingParams.greedy(), List.of()),
                TokenListener.NONE);
        assertEquals(12, r.completionTokens());
        assertEquals(FinishReason.LENGTH, r.finishReason());
        int promptTokens = tokenizer.encode("the cat sat on the mat").length + 1; // + bos
        assertEquals(promptTokens, r.promptTokens());
        assertEquals(promptTokens + 11, r.cache().seenTokens(), "the last sampled token is never fed back");
        assertEquals(r.cache().seenTokens() * model.kvSpec().bytesPerToken(), r.cache().bytes());
    }

    @Test
    void greedyIsDeterministicAndSeedsReproduce() {
        Generator g = generator(new int[0]);
        String a = g.generate(request(16, SamplingParams.greedy(), List.of()), TokenListener.NONE).text();
        String b = g.generate(request(16, SamplingParams.greedy(), List.of()), TokenListener.NONE).text();
        assertEquals(a, b);
        SamplingParams seeded = new SamplingParams(1.0, 0, 1.0, 1234);
        String s1 = g.generate(request(16, seeded, List.of()), TokenListener.NONE).text();
        String s2 = g.generate(request(16, seeded, List.of()), TokenListener.NONE).text();
        String other = g.generate(request(16, new SamplingParams(1.0, 0, 1.0, 99), List.of()), TokenListener.NONE).text();
        assertEquals(s1, s2, "same seed, same text");
        assertNotEquals(s1, other, "another seed samples another text");
    }

    @Test
    void samplingWhereTheLogitsAreGivesTheTokensOfTheCopiedRow() {
        // asking for log-probabilities copies each step's row to the host; without, greedy and top-k
        // read only the best id or the best k logits
        Generator g = generator(new int[0]);
        for (SamplingParams sampling : List.of(SamplingParams.greedy(), new SamplingParams(0.9, 8, 1.0, 42),
                new SamplingParams(1.0, 20, 0.8, 7))) {
            GenerationRequest plain = new GenerationRequest("the cat sat on the mat", 24, sampling, List.of(),
                    new FullPolicy(), true, Logprobs.NONE);
            GenerationRequest copied = new GenerationRequest("the cat sat on the mat", 24, sampling, List.of(),
                    new FullPolicy(), true, new Logprobs(0, false));
            assertEquals(g.generate(copied, TokenListener.NONE).text(), g.generate(plain, TokenListener.NONE).text(),
                    sampling.toString());
        }
    }

    @Test
    void stopsAtEosWithoutEmittingIt() {
        Generator plain = generator(new int[0]);
        GenerationRequest req = request(8, SamplingParams.greedy(), List.of());
        List<Integer> tokens = new ArrayList<>();
        plain.generate(req, (id, text) -> tokens.add(id));
        int third = tokens.get(2);
        GenerationResult r = generator(new int[] {third}).generate(req, TokenListener.NONE);
        assertEquals(FinishReason.EOS, r.finishReason());
        assertEquals(tokens.indexOf(third), r.completionTokens());
    }

    @Test
    void stopStringCutsTheTextAndIsNotEmitted() {
        Generator g = generator(new int[0]);
        String full = g.generate(request(20, SamplingParams.greedy(), List.of()), TokenListener.NONE).text();
        assertTrue(full.length() > 6, "fixture output too short: " + full);
        String stop = full.substring(3, 5);
        GenerationResult r = g.generate(request(20, SamplingParams.greedy(), List.of(stop)), TokenListener.NONE);
        assertEquals(FinishReason.STOP, r.finishReason());
        assertEquals(full.substring(0, full.indexOf(stop)), r.text());
    }

    @Test
    void streamedPiecesConcatenateToTheText() {
        StringBuilder streamed = new StringBuilder();
        GenerationResult r = generator(new int[0]).generate(
                request(24, new SamplingParams(0.9, 20, 0.95, 7), List.of()), (id, text) -> streamed.append(text));
        assertEquals(r.text(), streamed.toString());
        assertFalse(r.text().contains("\uFFFD") && !tokenizer.decode(tokenizer.encode(r.text())).equals(r.text()));
    }

    @Test
    void interruptedThreadCancelsAndFreesTheCache() {
        Thread.currentThread().interrupt();
        try {
            assertThrows(GenerationCancelledException.class,
                    () -> generator(new int[0]).generate(request(50, SamplingParams.greedy(), List.of()),
                            TokenListener.NONE));
        } finally {
            Thread.interrupted();
        }
    }

    @Test
    void zeroNewTokensOnlyPrefills() {
        GenerationResult r = generator(new int[0]).generate(request(0, SamplingParams.greedy(), List.of()),
                TokenListener.NONE);
        assertEquals(0, r.completionTokens());
        assertEquals("", r.text());
    }

    @Test
    void folderEosIdsComeFromGenerationConfig() {
        assertEquals(TinyModels.EOS_ID, ModelFolder.open(tiny.dir()).eosTokenIds()[0]);
    }

    /** A chat template's end-of-turn tokens end the answer as EOS does, and stay out of the text. */
    @Test
    void requestStopTokensEndTheOutputLikeEos() {
        Generator g = generator(new int[0]);
        List<Integer> ids = new java.util.ArrayList<>();
        TokenListener collect = (id, text) -> {
            if (id >= 0) {
                ids.add(id);
            }
        };
        GenerationResult free = g.generate(request(12, SamplingParams.greedy(), List.of()), collect);
        int turnEnd = ids.get(4);
        int firstAt = ids.indexOf(turnEnd);
        GenerationRequest withStop = new GenerationRequest("the cat sat on the mat", 12, SamplingParams.greedy(),
                List.of(), new FullPolicy(), false, Logprobs.NONE, List.of(turnEnd));
        GenerationResult stopped = g.generate(withStop, TokenListener.NONE);
        assertEquals(FinishReason.EOS, stopped.finishReason());
        assertEquals(firstAt, stopped.completionTokens());
        assertEquals(tokenizer.decode(ids.subList(0, firstAt).stream().mapToInt(Integer::intValue).toArray()),
                stopped.text());
        assertEquals(12, free.completionTokens());
    }

    /** The cache map is the cache's real state: the same forwards, done by hand, leave the same slots. */
    @Test
    void theCacheMapIsWhatThePolicyKept() {
        Generator g = generator(new int[0]);
        java.util.Map<String, Object> kv = java.util.Map.of("policy", "h2o", "budget", 8);
        List<Integer> ids = new java.util.ArrayList<>();
        GenerationRequest request = new GenerationRequest("the cat sat on the mat", 10, SamplingParams.greedy(),
                List.of(), dev.kvlab.cache.policy.PolicyRegistry.create(kv), true, Logprobs.NONE, List.of(), true);
        GenerationResult r = g.generate(request, (id, text) -> {
            if (id >= 0) {
                ids.add(id);
            }
        });
        dev.kvlab.cache.CacheMap map = r.cacheMap();
        assertEquals(model.config().numLayers(), map.layers().size());
        assertEquals(r.cache().seenTokens(), map.seenTokens());

        int[] prompt = g.promptTokens("the cat sat on the mat");
        try (dev.kvlab.cache.KvCache cache = model.newCache(dev.kvlab.cache.policy.PolicyRegistry.create(kv), 4)) {
            for (int from = 0; from < prompt.length; from += 4) {
                feed(cache, java.util.Arrays.copyOfRange(prompt, from, Math.min(prompt.length, from + 4)));
            }
            for (int i = 0; i < ids.size() - 1; i++) { // the last token is never fed back
                feed(cache, new int[] {ids.get(i)});
            }
            for (int l = 0; l < map.layers().size(); l++) {
                for (int h = 0; h < cache.layer(l).spec().kvHeads(); h++) {
                    org.junit.jupiter.api.Assertions.assertArrayEquals(cache.layer(l).positions(h),
                            map.layers().get(l).get(h).positions(), "layer " + l + " head " + h);
                    assertEquals(8, map.layers().get(l).get(h).positions().length);
                }
            }
        }
        assertNull(g.generate(request(4, SamplingParams.greedy(), List.of()), TokenListener.NONE).cacheMap());
    }

    private static void feed(dev.kvlab.cache.KvCache cache, int[] tokens) {
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            scope.suppressNotUsedWarning();
            model.forward(tokens, cache, false);
        }
    }
}
