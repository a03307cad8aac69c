package dev.kvlab.bench;

import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.data.HeldOutText;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.Generator;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.generation.TokenListener;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.tokenizer.TextTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Two long-context demonstrations on a model folder (default {@code models/kvlab-tiny}): a prompt of
 * ~50k tokens prefilled under bounded policies (peak KV bytes and RSS stay flat), and
 * sampling under {@code streaming} with {@code rope=cache-index} to 4× the trained context, with
 * the tail of the text printed so a reader can judge it. A harness, not a test.
 *
 * <pre>{@code ./mvnw -q -Pbench -Dbench.main=dev.kvlab.bench.LongContextBenchmark -Dbench.args="models/kvlab-tiny 50000"}</pre>
 */
public final class LongContextBenchmark {
    private LongContextBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "models/kvlab-tiny");
        int promptTokens = args.length > 1 ? Integer.parseInt(args[1]) : 50_000;
        ModelFolder folder = ModelFolder.open(dir);
        String heldOut = HeldOutText.builtIn();
        try (TransformerModel model = ModelLoader.load(dir, new ModelLoader.Options("cpu", null));
                TextTokenizer tokenizer = TextTokenizer.load(folder.tokenizerFile())) {
            Generator generator = new Generator(model, tokenizer, folder.eosTokenIds(), folder.promptBosTokenId(), 512);
            String prompt = heldOut.repeat(1 + promptTokens * 5 / Math.max(1, heldOut.length()));
            int[] ids = tokenizer.encode(prompt);
            prompt = tokenizer.decode(java.util.Arrays.copyOf(ids, Math.min(ids.length, promptTokens)));
            System.out.println("| policy | prompt tokens | stored | peak KV bytes | full-cache bytes | prefill s | RSS MiB |");
            System.out.println("|---|---|---|---|---|---|---|");
            for (Map<String, Object> kv : List.<Map<String, Object>>of(
                    Map.of("policy", "streaming", "budget", 256),
                    Map.of("policy", "h2o", "budget", 256),
                    Map.of("policy", "entropy-merge", "budget", 256))) {
                GenerationResult r = generator.generate(new GenerationRequest(prompt, 8, SamplingParams.greedy(),
                        List.of(), PolicyRegistry.create(kv, model.config().architecture())), TokenListener.NONE);
                System.out.printf("| %s | %,d | %d | %,d | %,d | %.1f | %d |%n", kv.get("policy"), r.promptTokens(),
                        r.cache().storedTokens(), r.cache().peakBytes(), r.cache().fullCacheBytes(),
                        r.timings().prefillNanos() / 1e9, residentMiB());
            }

            int length = 4 * model.config().maxPositions();
            // no eos: the point is to keep going past the trained context
            Generator endless = new Generator(model, tokenizer, new int[0], folder.promptBosTokenId(), 512);
            GenerationResult r = endless.generate(new GenerationRequest("The President said that", length,
                    new SamplingParams(0.7, 0, 0.9, 1), List.of(), PolicyRegistry.create(
                            Map.of("policy", "streaming", "budget", 256), model.config().architecture())),
                    TokenListener.NONE);
            String text = r.text();
            System.out.printf("%nstreaming (budget 256, rope cache-index, temperature 0.7, top_p 0.9) generated %d tokens (%d× the trained context"
                    + " of %d), finish %s, %.1f tok/s; the last 400 characters:%n%s%n", r.completionTokens(),
                    r.cache().seenTokens() / model.config().maxPositions(), model.config().maxPositions(),
                    r.finishReason().apiName(), r.timings().tokensPerSecond(),
                    text.substring(Math.max(0, text.length() - 400)));
        }
    }

    private static long residentMiB() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) / 1024;
            }
        }
        return -1;
    }
}
