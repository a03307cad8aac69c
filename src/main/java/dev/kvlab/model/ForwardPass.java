package dev.kvlab.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.kvlab.cache.AttentionObservation;
import dev.kvlab.cache.DevicePaths;
import dev.kvlab.cache.KvCache;
import dev.kvlab.cache.LayerCache;
import dev.kvlab.cache.policy.CachePolicy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The outcome of one batched forward pass before any cache has changed: the logits of every sequence
 * and, per sequence and layer, the attention its policy will see. The new keys and values are staged
 * in each cache ({@link LayerCache#stage}); {@link #commit} stores them and lets the sequence's policy
 * compact, one sequence at a time. A pass that fails leaves every cache as it was, so one sequence's
 * failure never corrupts the others' caches. Valid only inside the {@code NDScope} of the pass.
 */
public final class ForwardPass {
    private final List<SequenceInput> inputs;
    private final int layers;
    private final AttentionObservation[][] observations; // [sequence][layer]
    private final int[] firstLogitRow; // per sequence, and the total at the end
    private final int rows;
    private final boolean[] settled;
    private NDArray logits;
    private float[] hostLogits;
    private long[] lastArgmax;
    private float[] lastMax;
    private final Map<Double, float[]> lastProbabilities = new HashMap<>(2);
    private DeviceDraws.Plan[] plans;
    private DeviceDraws.Drawn[] drawn;
    private final List<NDArray> keptForStep = new ArrayList<>();
    private final Map<Integer, GroupBias> groupBiases = new HashMap<>(2);

    /** A decode group's attention bias and the slots of its members it was made for. */
    private record GroupBias(int[] slots, NDArray bias) {}

    ForwardPass(List<SequenceInput> inputs, int layers) {
        this.inputs = List.copyOf(inputs);
        this.layers = layers;
        this.observations = new AttentionObservation[inputs.size()][layers];
        this.firstLogitRow = new int[inputs.size() + 1];
        for (int i = 0; i < inputs.size(); i++) {
            SequenceInput in = inputs.get(i);
            firstLogitRow[i + 1] = firstLogitRow[i] + (in.allPositions() ? in.tokens().length : 1);
        }
        this.settled = new boolean[inputs.size()];
        this.rows = inputs.stream().mapToInt(in -> in.tokens().length).sum();
    }

    /** Tokens fed to the model, every sequence's in order: the rows of the pass's hidden states. */
    public int rows() {
        return rows;
    }

    public int size() {
        return inputs.size();
    }

    public SequenceInput input(int sequence) {
        return inputs.get(sequence);
    }

    /** Rows of the logits per sequence, in order: all its tokens' or only its last token's. */
    int logitRows() {
        return firstLogitRow[inputs.size()];
    }

    /** The layer loop hands over each sequence's attention probabilities, (kvHeads, group, tokens, stored). */
    void observe(int sequence, int layer, NDArray probs) {
        if (inputs.get(sequence).cache().policy().observesAttention()) {
            keepForStep(probs);
            observations[sequence][layer] = new AttentionObservation(probs);
        }
    }

    /**
     * A decode group's probabilities, (members, kvHeads, group, width), for the observing ones among
     * sequences {@code first, first + 1, …}: their summaries are made for all of them at once
     * ({@link AttentionObservation#ofGroup}).
     *
     * @param slots each member's slots, the first of the width
     */
    void observeGroup(int first, int layer, NDArray probs, int[] slots) {
        boolean[] observing = new boolean[slots.length];
        boolean any = false;
        for (int m = 0; m < slots.length; m++) {
            observing[m] = inputs.get(first + m).cache().policy().observesAttention();
            any |= observing[m];
        }
        if (!any) {
            return;
        }
        keepForStep(probs);
        AttentionObservation[] members = AttentionObservation.ofGroup(probs, slots, observing);
        for (int m = 0; m < slots.length; m++) {
            if (observing[m]) {
                observations[first + m][layer] = members[m];
            }
        }
    }

    /**
     * The additive bias of the decode group of {@code layers.length} sequences from {@code first} on over
     * {@code width} slots, (group, kvHeads, 1, width) in {@code dtype}: each member's
     * {@link LayerCache#fillAttentionBias}. A layer whose members hold as many slots as in the layer
     * before, none of them merged, gets the same array, so a step uploads it once rather than once per
     * layer (on a GPU each upload from the host waits for the copy).
     */
    NDArray groupBias(int first, LayerCache[] layers, int width, NDManager manager, DataType dtype) {
        int[] slots = new int[layers.length];
        boolean merged = false;
        for (int s = 0; s < layers.length; s++) {
            slots[s] = layers[s].slots();
            merged |= layers[s].hasMergedSlots();
        }
        GroupBias known = groupBiases.get(first);
        if (!merged && known != null && Arrays.equals(known.slots(), slots) && known.bias().getDataType() == dtype) {
            return known.bias();
        }
        int kvHeads = layers[0].spec().kvHeads();
        float[] flat = new float[layers.length * kvHeads * width];
        for (int s = 0; s < layers.length; s++) {
            layers[s].fillAttentionBias(flat, s * kvHeads * width, width);
        }
        NDArray bias = manager.create(flat, new Shape(layers.length, kvHeads, 1, width)).toType(dtype, false);
        if (!merged) {
            keepForStep(bias);
            groupBiases.put(first, new GroupBias(slots, bias));
        }
        return bias;
    }

    /** Takes an array out of the layer's scope ({@link AbstractDecoder#inLayerScope}) for the step. */
    private void keepForStep(NDArray array) {
        NDScope.unregister(array);
        keptForStep.add(array);
    }

    /**
     * Hands the arrays kept for the step (observed probabilities, group biases) to the caller's scope,
     * which frees them with the step.
     */
    void registerKept() {
        keptForStep.forEach(NDScope::register);
        keptForStep.clear();
    }

    void setLogits(NDArray logits) {
        this.logits = logits;
    }

    /** f32 logits of every sequence, rows as {@link #logitRows}: (rows, vocab). */
    public NDArray logits() {
        return logits;
    }

    /** One sequence's logits, (tokens | 1, vocab). */
    public NDArray logits(int sequence) {
        if (inputs.size() == 1) {
            return logits;
        }
        return logits.split(new long[] {firstLogitRow[sequence], firstLogitRow[sequence + 1]}, 0).get(1);
    }

    /** The logits of a sequence's last new token, copied to the host (see {@link #logitRow}). */
    public float[] lastLogits(int sequence) {
        return logitRow(sequence, firstLogitRow[sequence + 1] - firstLogitRow[sequence] - 1);
    }

    /**
     * Row {@code row} of a sequence's logits (its {@code row}-th new token, when its input asked for
     * all positions), copied to the host; the whole batch's logits are copied once, on the first call.
     */
    public float[] logitRow(int sequence, int row) {
        int rows = firstLogitRow[sequence + 1] - firstLogitRow[sequence];
        if (row < 0 || row >= rows) {
            throw new IndexOutOfBoundsException("row " + row + " of a sequence with " + rows + " logit rows");
        }
        if (hostLogits == null) {
            hostLogits = logits.toFloatArray();
        }
        int vocab = hostLogits.length / logitRows();
        int at = firstLogitRow[sequence] + row;
        return Arrays.copyOfRange(hostLogits, at * vocab, (at + 1) * vocab);
    }

    /**
     * The id of the largest logit of a sequence's last new token (lowest id on ties, as
     * {@code torch.argmax}) and that logit. Found on the device for every sequence of the pass at
     * once, so greedy decoding copies one id and one value per sequence, never a vocabulary of logits.
     */
    public Argmax lastArgmax(int sequence) {
        if (lastArgmax == null) {
            NDArray last = lastRows();
            lastArgmax = last.argMax(1).toLongArray();
            lastMax = last.max(new int[] {1}).toFloatArray();
        }
        return new Argmax((int) lastArgmax[sequence], lastMax[sequence]);
    }

    /** @param logit NaN when the row holds a NaN (the maximum propagates it) */
    public record Argmax(int id, float logit) {}

    /**
     * The {@code k} largest logits of a sequence's last new token with their ids, in descending order,
     * found on the device: a top-k draw copies k values and ids, not the vocabulary. The order of equal
     * logits is the device's.
     */
    public Top lastTop(int sequence, int k) {
        int row = firstLogitRow[sequence + 1] - 1;
        NDArray last = logits.get(row);
        NDList top = last.topK(Math.min(k, (int) last.getShape().get(0)), 0, true, true);
        return new Top(top.get(0).toFloatArray(), Arrays.stream(top.get(1).toLongArray()).mapToInt(i -> (int) i).toArray());
    }

    /**
     * {@code softmax(x / temperature)} of a sequence's last new token, copied to the host. Computed on
     * the device for the last rows of every sequence of the pass at once, the first time a temperature
     * is asked for: a temperature draw copies probabilities it needs and runs no exponential in Java.
     * A row that holds a NaN, or whose largest logit is infinite, comes back NaN throughout.
     */
    public float[] lastProbabilities(int sequence, double temperature) {
        float[] all = lastProbabilities.computeIfAbsent(temperature, t -> softmax(lastRows(), t));
        int vocab = all.length / inputs.size();
        return Arrays.copyOfRange(all, sequence * vocab, (sequence + 1) * vocab);
    }

    /**
     * Row-wise {@code softmax(x / temperature)} of (rows, vocab) logits, computed as
     * {@code softmax((x − max) / temperature)} so that no value overflows however small the
     * temperature, copied to the host row after row.
     */
    public static float[] softmax(NDArray logits, double temperature) {
        return softmaxOnDevice(logits, temperature).toFloatArray();
    }

    /** {@link #softmax}, left on the device. */
    static NDArray softmaxOnDevice(NDArray logits, double temperature) {
        int axis = logits.getShape().dimension() - 1;
        NDArray shifted = logits.sub(logits.max(new int[] {axis}, true));
        return shifted.div((float) temperature).softmax(axis);
    }

    /**
     * The draws the step's samplers ask for, one per sequence (null for a sequence whose sampler reads
     * the logits otherwise), made on a GPU together the first time one is read ({@link #drawn}): one op
     * set per temperature and top-p, and one id and one sum per sequence copied to the host instead of
     * a vocabulary of probabilities. On a CPU the plans are ignored and the samplers draw from the
     * copied probabilities: there the copy is a memory copy, and the draw in Java measured faster (150
     * against 230 µs per step of 8 rows of 4096 for temperature draws, against 2.6 ms for top-p, which
     * sorts the vocabulary).
     */
    public void planDraws(DeviceDraws.Plan[] plans) {
        if (plans.length != inputs.size()) {
            throw new IllegalArgumentException(plans.length + " draw plans for " + inputs.size() + " sequences");
        }
        this.plans = drawsOnDevice() ? plans.clone() : null;
        this.drawn = null;
    }

    /**
     * Whether {@link #planDraws} draws on the device (on a GPU, {@link DevicePaths}): only then are plans
     * worth making.
     */
    public boolean drawsOnDevice() {
        return DevicePaths.gpuWay(logits.getDevice());
    }

    /** The planned draw from a sequence's last new token, or null when none was planned. */
    public DeviceDraws.Drawn drawn(int sequence) {
        if (plans == null || plans[sequence] == null) {
            return null;
        }
        if (drawn == null) {
            drawn = drawPlanned();
        }
        return drawn[sequence];
    }

    private DeviceDraws.Drawn[] drawPlanned() {
        Map<List<Double>, List<Integer>> groups = new LinkedHashMap<>();
        for (int s = 0; s < plans.length; s++) {
            if (plans[s] != null) {
                groups.computeIfAbsent(List.of(plans[s].temperature(), plans[s].topP()), k -> new ArrayList<>()).add(s);
            }
        }
        NDArray last = lastRows();
        DeviceDraws.Drawn[] all = new DeviceDraws.Drawn[plans.length];
        for (List<Integer> group : groups.values()) {
            DeviceDraws.Plan first = plans[group.get(0)];
            NDArray rows = group.size() == plans.length ? last
                    : last.get(last.getManager().create(group.stream().mapToLong(Integer::longValue).toArray()));
            DeviceDraws.Drawn[] drawnRows = DeviceDraws.draw(rows, first.temperature(), first.topP(),
                    group.stream().mapToDouble(s -> plans[s].uniform()).toArray());
            for (int i = 0; i < group.size(); i++) {
                all[group.get(i)] = drawnRows[i];
            }
        }
        return all;
    }

    /** A row's best logits and their ids, highest first. */
    public record Top(float[] logits, int[] ids) {}

    /** (sequences, vocab): each sequence's last logit row, gathered only when a sequence has several. */
    private NDArray lastRows() {
        if (logitRows() == inputs.size()) {
            return logits;
        }
        long[] rows = new long[inputs.size()];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = firstLogitRow[i + 1] - 1L;
        }
        return logits.get(logits.getManager().create(rows));
    }

    /**
     * Stores a sequence's new tokens in its cache and lets its policy see the attention and compact,
     * layer by layer, as if each layer had done so during the pass (a layer's attention reads only its
     * own cache). If this throws, the sequence's cache is in an unknown state: close it.
     */
    public void commit(int sequence) {
        settle(sequence);
        SequenceInput in = inputs.get(sequence);
        KvCache cache = in.cache();
        CachePolicy policy = cache.policy();
        int first = (int) cache.seenTokens();
        int tokens = in.tokens().length;
        for (int i = 0; i < layers; i++) {
            LayerCache layer = cache.layer(i);
            layer.commit(first);
            cache.recordPeak();
            policy.afterAttention(i, layer, observations[sequence][i], first + tokens);
            observations[sequence][i] = null;
        }
        cache.advance(tokens);
    }

    /** Commits every sequence, in order. */
    public void commitAll() {
        for (int i = 0; i < inputs.size(); i++) {
            commit(i);
        }
    }

    /** Leaves a sequence's cache as it was before the pass. */
    public void discard(int sequence) {
        settle(sequence);
        inputs.get(sequence).cache().discardStaged();
    }

    /** Discards every sequence not committed yet. */
    void discardRest() {
        for (int i = 0; i < inputs.size(); i++) {
            if (!settled[i]) {
                discard(i);
            }
        }
    }

    private void settle(int sequence) {
        if (settled[sequence]) {
            throw new IllegalStateException("sequence " + sequence + " of the pass was already committed or discarded");
        }
        settled[sequence] = true;
    }
}
