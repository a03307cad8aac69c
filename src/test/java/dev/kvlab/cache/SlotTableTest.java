package dev.kvlab.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Slot metadata grows like the key and value buffers: appending writes only the new entries, the
 * arrays are replaced only when the capacity doubles, and compaction (dropping or merging) rewrites
 * entries within the same arrays.
 */
class SlotTableTest {

    @Test
    void appendingTokenByTokenReplacesTheArraysOnlyWhenTheCapacityDoubles() {
        int tokens = 100_000;
        SlotTable table = new SlotTable(8);
        int growths = 0;
        int[] positions = table.positions(7);
        float[] counts = table.counts(7);
        for (int t = 0; t < tokens; t++) {
            int capacity = table.capacity();
            table.append(t, 1);
            if (table.capacity() != capacity) {
                growths++;
                assertThat(table.capacity()).isEqualTo(Math.max(16, 2 * capacity));
            } else {
                assertThat(table.positions(7)).as("positions array after append %d", t).isSameAs(positions);
                assertThat(table.counts(7)).as("counts array after append %d", t).isSameAs(counts);
            }
            positions = table.positions(7);
            counts = table.counts(7);
        }
        assertThat(growths).isEqualTo(14); // 16, 32, …, 131072 slots
        assertThat(table.length()).isEqualTo(tokens);
        for (int h = 0; h < 8; h++) {
            int[] expected = new int[tokens];
            Arrays.setAll(expected, i -> i);
            assertThat(Arrays.copyOf(table.positions(h), tokens)).isEqualTo(expected);
        }
    }

    @Test
    void keepMovesEntriesWithinTheArraysAndAppendAfterwardsStartsFresh() {
        SlotTable table = new SlotTable(2);
        table.append(10, 6);
        for (int h = 0; h < 2; h++) {
            for (int s = 0; s < 6; s++) {
                table.scores(h)[s] = s + 10 * h;
                table.means(h)[s] = -s;
            }
        }
        int[] positions = table.positions(1);
        int capacity = table.capacity();

        table.keep(new int[][] {{0, 2, 5}, {1, 3, 4}});

        assertThat(table.length()).isEqualTo(3);
        assertThat(table.capacity()).isEqualTo(capacity);
        assertThat(table.positions(1)).isSameAs(positions);
        assertThat(Arrays.copyOf(table.positions(0), 3)).containsExactly(10, 12, 15);
        assertThat(Arrays.copyOf(table.positions(1), 3)).containsExactly(11, 13, 14);
        assertThat(Arrays.copyOf(table.scores(1), 3)).containsExactly(11, 13, 14);
        assertThat(Arrays.copyOf(table.means(0), 3)).containsExactly(0, -2, -5);

        table.append(16, 2); // over entries the compaction left behind
        assertThat(Arrays.copyOf(table.positions(0), 5)).containsExactly(10, 12, 15, 16, 17);
        assertThat(Arrays.copyOf(table.counts(0), 5)).containsExactly(1, 1, 1, 1, 1);
        assertThat(Arrays.copyOf(table.scores(0), 5)).containsExactly(0, 2, 5, 0, 0);
        assertThat(Arrays.copyOf(table.means(0), 5)).containsExactly(0, -2, -5, 0, 0);
    }

    @Test
    void keepRejectsSlotsOutOfOrder() {
        SlotTable table = new SlotTable(1);
        table.append(0, 4);
        assertThatThrownBy(() -> table.keep(new int[][] {{2, 1}})).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void mergingSumsCountsAndScoresAndWeightsMeansByCountInPlace() {
        SlotTable table = new SlotTable(1);
        table.append(0, 6);
        System.arraycopy(new float[] {1, 2, 1, 1, 3, 1}, 0, table.counts(0), 0, 6);
        System.arraycopy(new float[] {1, 2, 3, 4, 5, 6}, 0, table.scores(0), 0, 6);
        System.arraycopy(new float[] {.1f, .2f, .3f, .4f, .5f, .6f}, 0, table.means(0), 0, 6);
        float[] counts = table.counts(0);
        SlotMerges merges = new SlotMerges(table);

        // slots 1 and 4 fold into 2, slot 5 is dropped
        merges.compact(new CompactionPlan(new int[][] {{0, 2, 3}}, new int[][] {{0, 1, 1, 2, 1, -1}}));

        assertThat(table.counts(0)).isSameAs(counts);
        assertThat(Arrays.copyOf(table.positions(0), 3)).containsExactly(0, 2, 3);
        assertThat(Arrays.copyOf(table.counts(0), 3)).containsExactly(1, 6, 1);
        assertThat(Arrays.copyOf(table.scores(0), 3)).containsExactly(1, 10, 4);
        assertThat(table.means(0)[1]).isCloseTo((2 * .2f + .3f + 3 * .5f) / 6, within(1e-6f));
        assertThat(merges.merged()).isEqualTo(2);
        assertThat(merges.evicted()).isEqualTo(1);
        assertThat(merges.any()).isTrue();
        float[] bias = new float[3];
        merges.fillLogCounts(bias, 0, 0);
        assertThat(bias).containsExactly(new float[] {0, (float) Math.log(6), 0}, within(1e-6f));

        merges.compact(CompactionPlan.dropOnly(new int[][] {{0, 2}})); // the merged slot goes
        assertThat(merges.any()).isFalse();
        assertThat(merges.evicted()).isEqualTo(2);
    }
}
