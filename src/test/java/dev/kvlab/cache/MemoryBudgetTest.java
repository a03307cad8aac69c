package dev.kvlab.cache;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.DataType;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.cache.policy.PolicyRegistry;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The one memory prediction of admission, {@code /capacity} and {@code oom-sweep}. */
class MemoryBudgetTest {

    private static final KvSpec SPEC = new KvSpec(2, 2, 16, DataType.FLOAT32); // 256 bytes a slot, 512 a token
    // hidden 64, 4 query heads, vocabulary 300, f32: 3072 bytes a new token, 32 a new token and key, 2400 logits
    private static final MemoryBudget.Activations SHAPES = MemoryBudget.Activations.fromShapes(64, 4, 300, 4);
    private static final long WEIGHTS = 10_000;
    private static final int CHUNK = 8;

    private final MemoryBudget budget = new MemoryBudget(SPEC, WEIGHTS, CHUNK, SHAPES);

    /** A decode step of an unquantized cache: one token's activations and its layer padded and stacked. */
    private static long batchedDecode(MemoryBudget.Activations activations, long keys) {
        return activations.bytes(1, keys) + 2 * SPEC.layerBytes(Math.min(keys, ReadBlocks.READ_BLOCK));
    }

    private static CachePolicy policy(Map<String, Object> kvCache) {
        return PolicyRegistry.create(kvCache);
    }

    @Test
    void theShapeFormulaCountsHiddenStatesScoresAndLogits() {
        assertThat(SHAPES).isEqualTo(new MemoryBudget.Activations(64 * 12 * 4, 2 * 4 * 4, 2 * 4 * 300));
        assertThat(SHAPES.bytes(8, 100)).isEqualTo(8 * 3072 + 8 * 32 * 100 + 2400);
    }

    @Test
    void aFullCacheHoldsEveryTokenAndAttendsOverAllOfThem() {
        MemoryBudget.Footprint full = budget.footprint(policy(Map.of()), 100, 50);
        assertThat(full.kvSlots()).isEqualTo(150);
        assertThat(full.kvBytes()).isEqualTo(150 * 512);
        assertThat(full.activationBytes()).as("a decode step that may be batched, the larger pass here")
                .isEqualTo(Math.max(SHAPES.bytes(CHUNK, 150), batchedDecode(SHAPES, 150)));
        assertThat(full.requiredBytes()).isEqualTo(full.kvBytes() + full.activationBytes());
        assertThat(budget.footprint(policy(Map.of()), 3, 0).activationBytes()).as("a prompt shorter than a chunk")
                .isEqualTo(SHAPES.bytes(3, 3));
        assertThat(budget.fixedBytes(policy(Map.of()))).isNull();
    }

    @Test
    void scoresStopGrowingAtTheReadBlockUnlessThePolicyReadsTheProbabilities() {
        int block = ReadBlocks.READ_BLOCK;
        long tokens = 16L * block;
        CachePolicy full = policy(Map.of());
        assertThat(budget.passBytes(full, CHUNK, tokens)).as("a chunk reads a block at a time")
                .isEqualTo(SHAPES.bytes(CHUNK, block));
        assertThat(budget.passBytes(full, 1, tokens)).as("one token reads 8 blocks: as many scores")
                .isEqualTo(SHAPES.bytes(1, 8L * block) + 2 * SPEC.layerBytes(block));
        MemoryBudget byTwos = new MemoryBudget(SPEC, WEIGHTS, 2, SHAPES);
        assertThat(byTwos.footprint(full, tokens, 0).activationBytes()).as("the largest of chunk and decode passes")
                .isEqualTo(Math.max(SHAPES.bytes(2, 4L * block), budget.passBytes(full, 1, tokens)));
        assertThat(budget.passBytes(full, CHUNK, block / 2)).isEqualTo(SHAPES.bytes(CHUNK, block / 2));
        CachePolicy tova = policy(Map.of("policy", "tova", "budget_ratio", 1.0));
        assertThat(budget.footprint(tova, tokens, 0).activationBytes()).as("tova reads every probability")
                .isEqualTo(SHAPES.bytes(CHUNK, tokens));
        CachePolicy int8 = policy(Map.of("quantization", "int8", "group_size", 16));
        assertThat(budget.passBytes(int8, CHUNK, tokens)).as("one block dequantized")
                .isEqualTo(SHAPES.bytes(CHUNK, block) + SPEC.layerBytes(block));
        assertThat(budget.passBytes(int8, 1, tokens)).as("a decode step: two blocks dequantized at once")
                .isEqualTo(SHAPES.bytes(1, 2L * block) + SPEC.layerBytes(2L * block));
        assertThat(budget.footprint(int8, tokens, 0).activationBytes()).isEqualTo(
                Math.max(budget.passBytes(int8, CHUNK, tokens), budget.passBytes(int8, 1, tokens)));
        CachePolicy int4 = policy(Map.of("quantization", "int4", "group_size", 16));
        assertThat(budget.passBytes(int4, CHUNK, tokens)).as("nibbles unpacked: two copies")
                .isEqualTo(SHAPES.bytes(CHUNK, block) + 2 * SPEC.layerBytes(block));
        CachePolicy tova8 = policy(Map.of("policy", "tova", "budget_ratio", 1.0, "quantization", "int8", "group_size", 16));
        assertThat(budget.footprint(tova8, tokens, 0).activationBytes()).as("the whole layer, joined")
                .isEqualTo(SHAPES.bytes(CHUNK, tokens) + 2 * SPEC.layerBytes(tokens));
        assertThat(budget.maxTokens(full, 100L * block * 512)).as("so the cache alone bounds a full sequence")
                .isGreaterThan(98L * block);
    }

    @Test
    void aFixedBudgetAllocatesItsSlotsPlusAChunkWhateverTheLength() {
        CachePolicy h2o = policy(Map.of("policy", "h2o", "budget", 32));
        MemoryBudget.Footprint f = budget.footprint(h2o, 100, 5000);
        assertThat(f.kvSlots()).isEqualTo(32 + CHUNK);
        assertThat(f.kvBytes()).isEqualTo(40 * 512);
        assertThat(f.activationBytes()).isEqualTo(SHAPES.bytes(CHUNK, 40));
        assertThat(budget.footprint(h2o, 100, 50_000)).isEqualTo(f);
        assertThat(budget.fixedBytes(h2o)).isEqualTo(f.requiredBytes());

        CachePolicy every = policy(Map.of("policy", "h2o", "budget", 32, "compact_every", 4));
        assertThat(budget.kvSlots(every, 5000)).as("up to compact_every - 1 slots wait").isEqualTo(32 + 3 + CHUNK);
    }

    @Test
    void aRatioBudgetGrowsWithItsShareOfTheTokens() {
        CachePolicy tova = policy(Map.of("policy", "tova", "budget_ratio", 0.5));
        assertThat(budget.kvSlots(tova, 200)).isEqualTo(100 + CHUNK);
        assertThat(budget.kvSlots(tova, 6)).as("never more than the tokens").isEqualTo(6);
        assertThat(budget.fixedBytes(tova)).isNull();
        CachePolicy every = policy(Map.of("policy", "tova", "budget_ratio", 0.5, "compact_every", 4));
        assertThat(budget.kvSlots(every, 200)).isEqualTo(100 + 3 + CHUNK);
    }

    @Test
    void layersWithBudgetsOfTheirOwnAreSummedLayerByLayer() {
        CachePolicy pyramid = policy(Map.of("policy", "pyramidkv", "budget", 40, "window", 8));
        int layer0 = pyramid.maxSlots(0, 2);
        int layer1 = pyramid.maxSlots(1, 2);
        assertThat(layer0).isGreaterThan(40).isEqualTo(80 - layer1); // the uniform total, shared unevenly
        assertThat(budget.kvSlots(pyramid, 5000, 0)).isEqualTo(layer0 + CHUNK);
        assertThat(budget.kvSlots(pyramid, 5000, 1)).isEqualTo(layer1 + CHUNK);
        assertThat(budget.kvBytes(pyramid, 5000)).isEqualTo((layer0 + layer1 + 2L * CHUNK) * 256);
        assertThat(budget.footprint(pyramid, 100, 4900).kvSlots()).as("the largest layer").isEqualTo(layer0 + CHUNK);
    }

    @Test
    void maxTokensIsTheLongestSequenceWhoseFootprintFits() {
        long available = 300_000;
        for (CachePolicy p : new CachePolicy[] {policy(Map.of()), policy(Map.of("policy", "tova", "budget_ratio", 0.25))}) {
            long max = budget.maxTokens(p, available);
            assertThat(budget.footprint(p, max, 0).requiredBytes()).isLessThanOrEqualTo(available);
            assertThat(budget.footprint(p, max + 1, 0).requiredBytes()).isGreaterThan(available);
        }
        // a full cache, whose decode step is the larger pass here: (available - one new token's hidden
        // states - logits) / (KV + one token's scores per key + a layer padded and stacked for a batch)
        assertThat(budget.maxTokens(policy(Map.of()), available))
                .isEqualTo((available - 3072 - 2400) / (512 + 32 + 2 * 256));
        assertThat(budget.maxTokensUnder(policy(Map.of()), WEIGHTS + available))
                .isEqualTo(budget.maxTokens(policy(Map.of()), available));

        CachePolicy bounded = policy(Map.of("policy", "streaming", "budget", 64));
        assertThat(budget.maxTokens(bounded, available)).isEqualTo(-1);
        assertThat(budget.maxTokens(bounded, budget.fixedBytes(bounded) - 1)).isZero();
    }

    @Test
    void aMeasuredAllowanceReplacesTheComputedOne() {
        MemoryBudget.Activations measured = new MemoryBudget.Activations(100, 1, 2400);
        MemoryBudget m = budget.withActivations(measured);
        assertThat(m.footprint(policy(Map.of()), 100, 0).activationBytes()).isEqualTo(batchedDecode(measured, 100));
        assertThat(m.maxTokens(policy(Map.of()), 300_000)).isGreaterThan(budget.maxTokens(policy(Map.of()), 300_000));
        assertThat(m.weightsBytes()).isEqualTo(WEIGHTS);
    }

    @Test
    void aQuantizedCacheCountsCodesScalesZerosAndItsExactWindow() {
        // head dim 16, groups of 8: int8 a slot-head 16 code bytes + 2 groups × (scale + zero) × 2 bytes = 24 per tensor
        CachePolicy int8 = policy(Map.of("quantization", "int8", "group_size", 8, "residual", 10));
        MemoryBudget.Footprint f = budget.footprint(int8, 100, 50);
        long perLayer = 41 * 256 + 109 * 2 * 2 * 24; // a full window: residual + 31 slots
        assertThat(f.kvBytes()).isEqualTo(2 * perLayer).isEqualTo(2 * SPEC.layerBytes(150, int8.quantization()));
        assertThat(f.activationBytes()).as("one layer read back for attention")
                .isEqualTo(SHAPES.bytes(CHUNK, 150) + SPEC.layerBytes(150));
        assertThat(budget.maxTokens(int8, 1_000_000)).isGreaterThan(budget.maxTokens(policy(Map.of()), 1_000_000));
    }

    @Test
    void onAGpuScoresKeptOnTheDeviceCountWithTheCache() {
        CachePolicy everyFour = policy(Map.of("policy", "h2o", "budget", 32, "compact_every", 4));
        CachePolicy everyStep = policy(Map.of("policy", "h2o", "budget", 32));
        MemoryBudget gpu = budget.onGpu();
        long slots = budget.kvSlots(everyFour, 1000);
        assertThat(gpu.kvBytes(everyFour, 1000) - budget.kvBytes(everyFour, 1000))
                .as("f32 per KV head and slot in every layer")
                .isEqualTo(SPEC.layers() * SPEC.kvHeads() * slots * Float.BYTES);
        assertThat(gpu.kvBytes(everyStep, 1000)).as("read every step: the scores stay on the host")
                .isEqualTo(budget.kvBytes(everyStep, 1000));
        assertThat(gpu.withActivations(SHAPES).kvBytes(everyFour, 1000)).isEqualTo(gpu.kvBytes(everyFour, 1000));
    }
}
