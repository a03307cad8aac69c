package dev.kvlab.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.Objects;

/**
 * A layer's two per-slot policy channels, per KV head: {@code scores}, summed when slots merge (the
 * attention each slot has received, for H2O), and {@code means}, averaged weighted by the merge
 * count (a per-token property such as attention entropy). Both live in the layer's {@link SlotTable}
 * on the host, where policies rank slots.
 *
 * <p>On a device that is not the host, a policy that adds the attention received at every step but
 * compacts only every few steps would copy the attention to the host at every step for a ranking it
 * makes only at a compaction. With {@code onDevice}, {@link #addReceived} adds on the device
 * instead, into an f32 tensor of the same capacity, and the host arrays are brought up to date on the
 * first read: one copy per compaction instead of one per step and layer. A drop-only compaction moves
 * the device scores with one gather, as it moves keys; a merging one is summed on the host, and the
 * sums go back to the device with the next addition.
 */
public final class SlotScores {
    private final SlotTable slots;
    private final NDManager manager;
    private final boolean onDevice;
    private NDArray device; // (kvHeads, capacity, 1) f32: the slot axis second to last, as in SlotRanges
    private int deviceSlots; // slots the device holds; later ones were appended since and start at 0
    private boolean hostCurrent = true; // the host arrays hold every addition
    private boolean deviceCurrent; // the device holds the host's scores and every addition

    SlotScores(SlotTable slots, NDManager manager, boolean onDevice) {
        this.slots = slots;
        this.manager = manager;
        this.onDevice = onDevice;
    }

    /** Whether additions of received attention stay on the device until a read. */
    public boolean onDevice() {
        return onDevice;
    }

    /** The summed scores of {@code head}: a copy, (stored). */
    public float[] scores(int head) {
        syncHost();
        return Arrays.copyOf(slots.scores(head), slots.length());
    }

    /** The summed score of slot {@code slot} of {@code head}, read in place: what a policy ranks slots by. */
    public float score(int head, int slot) {
        syncHost();
        return slots.scores(head)[slot];
    }

    /** Adds {@code amounts[s]} to the score of each slot {@code s < amounts.length} of {@code head}. */
    public void add(int head, float[] amounts) {
        Objects.checkFromIndexSize(0, amounts.length, slots.length());
        syncHost();
        float[] scores = slots.scores(head);
        for (int s = 0; s < amounts.length; s++) {
            scores[s] += amounts[s];
        }
        deviceCurrent = false;
    }

    /** Sets the scores of slots {@code from, from + 1, …} of {@code head} to {@code values}. */
    public void set(int head, int from, float[] values) {
        Objects.checkFromIndexSize(from, values.length, slots.length());
        syncHost();
        System.arraycopy(values, 0, slots.scores(head), from, values.length);
        deviceCurrent = false;
    }

    /**
     * Adds to every slot's score, per KV head, the attention the new tokens paid it
     * ({@link AttentionObservation#columnSums()}): on the device when {@link #onDevice()}, else on the
     * host from the observation's copy.
     */
    public void addReceived(AttentionObservation attention) {
        if (attention.stored() != slots.length()) {
            throw new IllegalArgumentException("attention over " + attention.stored() + " slots for "
                    + slots.length() + " stored");
        }
        if (!onDevice) {
            float[][] received = attention.columnSums();
            for (int h = 0; h < slots.heads(); h++) {
                add(h, received[h]);
            }
            return;
        }
        prepareDevice();
        int n = slots.length();
        SlotRanges.view(device, 0, n).addi(attention.columnSumsOnDevice()); // a view: adds into the device scores
        hostCurrent = false;
    }

    /** The averaged scores of {@code head}: a copy, (stored); 0 for new slots. */
    public float[] means(int head) {
        return Arrays.copyOf(slots.means(head), slots.length());
    }

    /** Sets the averaged scores of slots {@code from, from + 1, …} of {@code head} to {@code values}. */
    public void setMeans(int head, int from, float[] values) {
        Objects.checkFromIndexSize(from, values.length, slots.length());
        System.arraycopy(values, 0, slots.means(head), from, values.length);
    }

    /**
     * Carries the device scores through {@code plan}; call it before the table applies the plan. A plan
     * that merges is summed on the host ({@link SlotMerges#compact}), so the host is brought up to date
     * first and the device left to be rewritten from it.
     */
    void compact(CompactionPlan plan) {
        if (device == null || !deviceCurrent) {
            return;
        }
        if (plan.merges()) {
            syncHost();
            deviceCurrent = false;
            return;
        }
        zeroAppended();
        int capacity = (int) device.getShape().get(1);
        NDArray kept = device.reshape(-1, 1).get(manager.create(plan.rows(capacity)));
        SlotRanges.write(device, 0, kept.reshape(slots.heads(), plan.newStored(), 1));
        deviceSlots = plan.newStored();
    }

    /** Device bytes the scores take (0 while they live on the host alone). */
    long allocatedBytes() {
        return device == null ? 0 : device.size() * Float.BYTES;
    }

    void close() {
        if (device != null) {
            device.close();
            device = null;
        }
    }

    /** Makes the device tensor current and as long as the stored slots, (re)allocating it after the table grew. */
    private void prepareDevice() {
        if (device != null && device.getShape().get(1) < slots.capacity()) {
            syncHost();
            close();
        }
        if (device == null) {
            device = manager.zeros(new Shape(slots.heads(), slots.capacity(), 1), DataType.FLOAT32);
            NDScope.unregister(device); // outlives the step scope that made it
            deviceCurrent = false;
        }
        if (!deviceCurrent) { // the host holds every score
            int n = slots.length();
            float[] flat = new float[slots.heads() * n];
            for (int h = 0; h < slots.heads(); h++) {
                System.arraycopy(slots.scores(h), 0, flat, h * n, n);
            }
            SlotRanges.write(device, 0, HostArrays.floats(manager, flat, new Shape(slots.heads(), n, 1)));
            deviceSlots = n;
            deviceCurrent = true;
        }
        zeroAppended();
    }

    /** Zeroes the device scores of slots appended since the device last held them all. */
    private void zeroAppended() {
        int n = slots.length();
        if (deviceSlots < n) {
            SlotRanges.write(device, deviceSlots,
                    manager.zeros(new Shape(slots.heads(), n - deviceSlots, 1), DataType.FLOAT32));
            deviceSlots = n;
        }
    }

    /** Copies the device scores into the host arrays if they hold additions the host has not seen. */
    private void syncHost() {
        if (hostCurrent) {
            return;
        }
        int n = deviceSlots;
        float[] flat = SlotRanges.view(device, 0, n).toFloatArray();
        for (int h = 0; h < slots.heads(); h++) {
            System.arraycopy(flat, h * n, slots.scores(h), 0, n);
        }
        hostCurrent = true;
    }
}
