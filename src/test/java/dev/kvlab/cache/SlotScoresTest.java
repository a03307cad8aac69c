package dev.kvlab.cache;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Scores added on the device between compactions read the same on the host as scores added there:
 * through growth, drop-only compactions (moved on the device), merging ones (summed on the host),
 * host writes and appended slots. Both run on this machine's device; only where the sums are kept
 * differs.
 */
class SlotScoresTest {
    private static final KvSpec SPEC = new KvSpec(1, 2, 4, DataType.FLOAT32);

    @Test
    void scoresKeptOnTheDeviceReadAsScoresKeptOnTheHost() {
        Random random = new Random(7);
        try (NDManager manager = NDManager.newBaseManager()) {
            LayerCache host = new LayerCache(SPEC, manager, 0, Quantization.NONE, false);
            LayerCache device = new LayerCache(SPEC, manager, 0, Quantization.NONE, true);
            assertThat(device.scores().onDevice()).isTrue();
            int position = 0;
            int deviceReads = 0;
            for (int step = 0; step < 120; step++) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    int tokens = step % 17 == 0 ? 5 : 1; // chunks now and then grow the buffers
                    for (LayerCache layer : new LayerCache[] {host, device}) {
                        layer.append(token(manager, tokens), token(manager, tokens), position);
                    }
                    position += tokens;
                    AttentionObservation attention = new AttentionObservation(probabilities(manager, random,
                            tokens, host.stored()));
                    host.scores().addReceived(attention);
                    device.scores().addReceived(attention);
                    if (step % 23 == 11) { // a prefill-style write from the host
                        float[] votes = {random.nextFloat(), random.nextFloat()};
                        host.scores().set(1, host.stored() - 2, votes);
                        device.scores().set(1, device.stored() - 2, votes);
                    }
                    if (host.stored() > 12 && step % 3 == 0) {
                        CompactionPlan plan = step % 9 == 0 ? merging(host.stored()) : dropping(random, host);
                        host.compact(plan);
                        device.compact(plan);
                        deviceReads++;
                        for (int h = 0; h < SPEC.kvHeads(); h++) {
                            assertThat(device.scores().scores(h)).as("step %d, head %d", step, h)
                                    .containsExactly(host.scores().scores(h));
                        }
                    }
                }
            }
            assertThat(deviceReads).isGreaterThan(30);
            assertThat(device.allocatedBytes() - host.allocatedBytes()).as("f32 per head and slot on the device")
                    .isEqualTo((long) SPEC.kvHeads() * device.slotCapacity() * Float.BYTES);
            host.close();
            device.close();
        }
    }

    /** Drops the two lowest-scored slots of each head, read on the host through the scores. */
    private static CompactionPlan dropping(Random random, LayerCache layer) {
        int stored = layer.stored();
        int[][] keep = new int[SPEC.kvHeads()][];
        for (int h = 0; h < keep.length; h++) {
            int first = lowest(layer, h, -1);
            int second = lowest(layer, h, first);
            int[] k = new int[stored - 2];
            int i = 0;
            for (int s = 0; s < stored; s++) {
                if (s != first && s != second) {
                    k[i++] = s;
                }
            }
            keep[h] = k;
        }
        return CompactionPlan.dropOnly(keep);
    }

    private static int lowest(LayerCache layer, int head, int except) {
        int best = -1;
        for (int s = 0; s < layer.stored(); s++) {
            if (s != except && (best < 0 || layer.scores().score(head, s) < layer.scores().score(head, best))) {
                best = s;
            }
        }
        return best;
    }

    /** Folds slot 1 into slot 0 and drops slot 2 on every head. */
    private static CompactionPlan merging(int stored) {
        int[][] keep = new int[SPEC.kvHeads()][stored - 2];
        int[][] target = new int[SPEC.kvHeads()][stored];
        for (int h = 0; h < keep.length; h++) {
            keep[h][0] = 0;
            target[h][0] = 0;
            target[h][1] = 0;
            target[h][2] = -1;
            for (int s = 3; s < stored; s++) {
                keep[h][s - 2] = s;
                target[h][s] = s - 2;
            }
        }
        return new CompactionPlan(keep, target);
    }

    /** Random attention rows over {@code stored} slots, (kvHeads, group 2, tokens, stored). */
    private static NDArray probabilities(NDManager manager, Random random, int tokens, int stored) {
        float[] p = new float[SPEC.kvHeads() * 2 * tokens * stored];
        for (int i = 0; i < p.length; i++) {
            p[i] = random.nextFloat() / stored;
        }
        return manager.create(p, new Shape(SPEC.kvHeads(), 2, tokens, stored));
    }

    private static NDArray token(NDManager manager, int tokens) {
        return manager.ones(new Shape(SPEC.kvHeads(), tokens, SPEC.headDim()));
    }
}
