package dev.kvlab.bench.jlama;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tjake.jlama.model.llama.LlamaModel;
import com.github.tjake.jlama.safetensors.Config;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.SafeTensorSupport;
import com.github.tjake.jlama.safetensors.WeightLoader;
import com.github.tjake.jlama.model.llama.LlamaConfig;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import com.github.tjake.jlama.tensor.operations.TensorOperationsProvider;
import com.github.tjake.jlama.util.JsonSupport;
import com.github.tjake.jlama.util.PhysicalCoreExecutor;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;

/**
 * Greedy decoding of a Llama checkpoint with Jlama, for kvlab's side-by-side benchmark
 * ({@code dev.kvlab.bench.JlamaSideBySide} launches it). The prompts arrive as token ids, one prompt
 * per line of a file, so tokenization cannot differ between the two engines. For each prompt it
 * prefills the ids in one batch, then runs {@code steps} single-token decode steps, feeding back the
 * argmax each time, and prints one JSON line: the {@code steps + 1} greedy tokens (the first from the
 * prefill logits) and the prefill and decode seconds of the fastest timed run. The first (untimed)
 * run also writes the logits behind every greedy token to {@code logitsPrefix-<prompt index>.f32}
 * ((steps + 1) × vocab little-endian f32), so that the caller can compare them with its own.
 *
 * <p>Everything stays f32 (weights, activations, KV cache: Jlama keeps an F32 checkpoint in F32
 * unless a quantization is asked for) and the KV cache lives in memory. The config's context length
 * is raised to cover the prompt and the decode steps: Jlama sizes its RoPE table and its KV pages
 * with it, and in grouped-query attention it reads the table of KV head g at position p + 2g
 * (relative positions are unchanged, so the logits are too), which would overrun a table of exactly
 * prompt + steps positions.
 *
 * <pre>{@code java --add-modules jdk.incubator.vector --enable-preview -jar kvlab-jlama-bench.jar
 *     modelDir idsFile steps threads warmups repeats logitsPrefix}</pre>
 */
public final class JlamaGreedy {

    private JlamaGreedy() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 7) {
            System.err.println("usage: JlamaGreedy modelDir idsFile steps threads warmups repeats logitsPrefix");
            System.exit(2);
        }
        Path modelDir = Path.of(args[0]);
        List<int[]> prompts = readPrompts(Path.of(args[1]));
        int steps = Integer.parseInt(args[2]);
        int threads = Integer.parseInt(args[3]);
        int warmups = Integer.parseInt(args[4]);
        int repeats = Integer.parseInt(args[5]);
        String logitsPrefix = args[6];

        PhysicalCoreExecutor.overrideThreadCount(threads); // before anything starts the pool
        int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        try (GreedyLlama model = GreedyLlama.load(modelDir, longest + steps)) {
            for (int p = 0; p < prompts.size(); p++) {
                int[] prompt = prompts.get(p);
                Run first = null;
                double bestPrefill = Double.MAX_VALUE;
                double bestDecode = Double.MAX_VALUE;
                for (int r = 0; r < warmups + repeats; r++) {
                    Run run = model.generate(prompt, steps, r == 0);
                    if (first == null) {
                        first = run;
                        write(run.logits, Path.of(logitsPrefix + "-" + p + ".f32"));
                    } else if (!Arrays.equals(first.tokens, run.tokens)) {
                        throw new IllegalStateException("Jlama is not deterministic: run " + r + " decoded other tokens");
                    }
                    if (r >= warmups) {
                        bestPrefill = Math.min(bestPrefill, run.prefillSeconds);
                        bestDecode = Math.min(bestDecode, run.decodeSeconds);
                    }
                }
                System.out.println(json(model, threads, prompt.length, steps, repeats, first, bestPrefill, bestDecode));
            }
        }
        System.exit(0); // Jlama's thread pools are not daemons
    }

    private static List<int[]> readPrompts(Path file) throws Exception {
        List<int[]> prompts = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            if (!line.isBlank()) {
                prompts.add(Arrays.stream(line.trim().split("\\s+")).mapToInt(Integer::parseInt).toArray());
            }
        }
        return prompts;
    }

    private static void write(float[][] logits, Path file) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(logits.length * logits[0].length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (float[] row : logits) {
            bytes.asFloatBuffer().put(row);
            bytes.position(bytes.position() + row.length * Float.BYTES);
        }
        Files.write(file, bytes.array());
    }

    private static String json(GreedyLlama model, int threads, int prompt, int steps, int repeats, Run run,
            double prefillSeconds, double decodeSeconds) {
        return String.format(Locale.ROOT,
                "{\"engine\":\"jlama\",\"ops\":\"%s\",\"java\":\"%s\",\"threads\":%d,\"context_length\":%d,"
                        + "\"prompt\":%d,\"steps\":%d,\"repeats\":%d,\"prefill_s\":%.6f,\"decode_s\":%.6f,"
                        + "\"prefill_tok_s\":%.3f,\"decode_tok_s\":%.3f,\"tokens\":%s}",
                TensorOperationsProvider.get().name(), Runtime.version(), threads, model.contextLength(), prompt, steps,
                repeats, prefillSeconds, decodeSeconds, prompt / prefillSeconds, steps / decodeSeconds,
                Arrays.toString(run.tokens).replace(" ", ""));
    }

    /** One generation: greedy tokens (and the logits behind them when asked) with its two timings. */
    record Run(int[] tokens, float[][] logits, double prefillSeconds, double decodeSeconds) {}

    /**
     * Jlama's Llama, loaded without a tokenizer (the prompts are ids) and with access to its own
     * single-token forward pass and KV buffers, which are protected members.
     */
    static final class GreedyLlama extends LlamaModel {

        private GreedyLlama(Config config, WeightLoader weights) {
            super(config, weights, null, DType.F32, DType.F32, Optional.empty());
        }

        static GreedyLlama load(Path dir, int positions) throws Exception {
            ObjectNode json = (ObjectNode) JsonSupport.om.readTree(dir.resolve("config.json").toFile());
            int trained = json.path("max_position_embeddings").asInt();
            int kvHeads = json.path("num_key_value_heads").asInt(json.path("num_attention_heads").asInt());
            json.put("max_position_embeddings", Math.max(trained, positions + 2 * kvHeads));
            Config config = JsonSupport.om.treeToValue(json, LlamaConfig.class); // Jlama's own reader
            WeightLoader weights = SafeTensorSupport.loadWeights(new File(dir.toString()));
            if (weights.getModelDType() != DType.F32) {
                throw new IllegalStateException("expected an F32 checkpoint, got " + weights.getModelDType());
            }
            return new GreedyLlama(config, weights);
        }

        int contextLength() {
            return c.contextLength;
        }

        Run generate(int[] prompt, int steps, boolean withLogits) {
            int[] tokens = new int[steps + 1];
            float[][] kept = withLogits ? new float[steps + 1][] : null;
            KvBufferCache.KvBuffer kv = kvBufferCache.getKvBuffer(UUID.randomUUID());
            try (AbstractTensor logits = makeDenseTensor(c.vocabularySize)) {
                long t0 = System.nanoTime();
                AbstractTensor hidden = batchForward(prompt, 0, kv);
                int next = sample(hidden.slice(hidden.shape().first() - 1), 0f, 0f, logits);
                hidden.close();
                long t1 = System.nanoTime();
                tokens[0] = next;
                if (withLogits) {
                    kept[0] = copy(logits);
                }
                long untimed = 0;
                for (int i = 0; i < steps; i++) {
                    AbstractTensor out = forward(next, prompt.length + i, kv);
                    next = sample(out, 0f, 0f, logits);
                    out.close();
                    tokens[i + 1] = next;
                    if (withLogits) {
                        long m0 = System.nanoTime();
                        kept[i + 1] = copy(logits);
                        untimed += System.nanoTime() - m0;
                    }
                }
                long t2 = System.nanoTime();
                return new Run(tokens, kept, (t1 - t0) / 1e9, (t2 - t1 - untimed) / 1e9);
            } finally {
                kv.close();
            }
        }

        /** The raw logits: greedy sampling (temperature 0) returns before it rescales them in place. */
        private float[] copy(AbstractTensor logits) {
            float[] out = new float[c.vocabularySize];
            for (int i = 0; i < out.length; i++) {
                out[i] = logits.get(0, i);
            }
            return out;
        }
    }
}
