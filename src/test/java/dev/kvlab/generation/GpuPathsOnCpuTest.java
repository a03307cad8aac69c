package dev.kvlab.generation;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.DataType;
import dev.kvlab.cache.DevicePaths;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.testing.GpuWay;
import dev.kvlab.tokenizer.TextTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The branches a GPU takes (draws on the device, policy scores kept there between compactions,
 * entropies and key similarities reduced there, the memory budget that counts those scores), run end
 * to end on this CPU through {@link DevicePaths#FORCE_PROPERTY}: a batch of requests across policies
 * and samplers, of prompts of different lengths, generates the same tokens either way, in f32 and in
 * f16.
 */
class GpuPathsOnCpuTest {
    private static final Path SHIPPED = Path.of("models/kvlab-tiny");

    private static final List<Map<String, Object>> POLICIES = List.of(
            Map.of("policy", "full"),
            Map.of("policy", "h2o", "budget", 24, "compact_every", 4),
            Map.of("policy", "h2o", "budget", 24),
            Map.of("policy", "snapkv", "budget", 24, "window", 4, "compact_every", 2),
            Map.of("policy", "tova", "budget", 20),
            Map.of("policy", "entropy-merge", "budget", 24),
            Map.of("policy", "entropy-merge", "priority", "attention", "budget", 24, "compact_every", 3));
    private static final List<SamplingParams> SAMPLING = List.of(
            new SamplingParams(0.8, 0, 1.0, 4), SamplingParams.greedy(), new SamplingParams(0.9, 0, 0.9, 7),
            SamplingParams.greedy(), new SamplingParams(1.0, 5, 1.0, 2), SamplingParams.greedy(),
            new SamplingParams(0.7, 0, 0.8, 9));
    private static final String[] PROMPTS = {
        "The pass key is 48213. Remember it. The grass is green and the sky is blue.",
        "Once upon a time",
        "It is a truth universally acknowledged, that a single man in possession of a good fortune",
    };

    @Test
    void aBatchGeneratesTheSameTokensTheGpuWayAsTheCpuWay() {
        sameTokensBothWays(DataType.FLOAT32);
    }

    /**
     * A GPU computes in f16 by default: over f16 weights, caches and probabilities the GPU's branches
     * give the CPU's tokens too. f16 logits tie often, and the device's nucleus orders ties as the
     * host does.
     */
    @Test
    void theGpuWayGivesTheSameTokensInHalfPrecision() {
        sameTokensBothWays(DataType.FLOAT16);
    }

    @Test
    void theGpuWayCountsTheScoresItKeepsOnTheDevice() {
        try (TransformerModel model = ModelLoader.load(SHIPPED, new ModelLoader.Options("cpu", null))) {
            CachePolicy everyFour = PolicyRegistry.create(POLICIES.get(1));
            long slots = model.memoryBudget(16).kvSlots(everyFour, 100);
            long keysAndValues = slots * model.kvSpec().bytesPerToken();
            assertThat(GpuWay.run(false, () -> model.memoryBudget(16).kvBytes(everyFour, 100)))
                    .as("the CPU way keeps scores on the host").isEqualTo(keysAndValues);
            assertThat(GpuWay.run(true, () -> model.memoryBudget(16).kvBytes(everyFour, 100)))
                    .isEqualTo(keysAndValues + slots * model.kvSpec().layers() * model.kvSpec().kvHeads() * 4L);
        }
    }

    private static void sameTokensBothWays(DataType dtype) {
        try (TransformerModel model = ModelLoader.load(SHIPPED, new ModelLoader.Options("cpu", dtype));
                TextTokenizer tokenizer = TextTokenizer.load(ModelFolder.open(SHIPPED).tokenizerFile())) {
            assertThat(model.dtype()).isEqualTo(dtype);
            ModelFolder folder = ModelFolder.open(SHIPPED);
            Generator generator = new Generator(model, tokenizer, folder.eosTokenIds(), folder.promptBosTokenId(), 16);
            List<String> cpuWay = GpuWay.run(false, () -> generate(generator));
            List<String> gpuWay = GpuWay.run(true, () -> generate(generator));
            for (int i = 0; i < POLICIES.size(); i++) {
                assertThat(gpuWay.get(i)).as("%s, %s, %s", dtype, POLICIES.get(i), SAMPLING.get(i))
                        .isEqualTo(cpuWay.get(i));
            }
        }
    }

    private static List<String> generate(Generator generator) {
        List<GenerationRequest> requests = new ArrayList<>();
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < POLICIES.size(); i++) {
            String prompt = PROMPTS[i % PROMPTS.length];
            requests.add(new GenerationRequest(prompt, 40, SAMPLING.get(i), List.of(),
                    PolicyRegistry.create(POLICIES.get(i)), true));
            prompts.add(generator.promptTokens(prompt));
        }
        List<String> texts = new ArrayList<>();
        for (GenerationResult r : generator.generateAll(requests, prompts, 16 + POLICIES.size())) {
            assertThat(r.completionTokens()).isEqualTo(40);
            texts.add(r.text());
        }
        return texts;
    }
}
