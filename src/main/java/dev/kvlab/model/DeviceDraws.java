package dev.kvlab.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Temperature and top-p (nucleus) draws made where the logits are, for several rows at once, each
 * row with its own uniform number: a step copies one id and one sum per row to the host, not a
 * vocabulary of probabilities. The arithmetic is the host's ({@code Samplers}): the probabilities'
 * running total in double precision, summed in vocabulary order, and the first token whose running
 * total exceeds {@code uniform · total}; for top-p, the running total over the probabilities in
 * descending order, the smallest prefix whose mass reaches {@code p · total}, and the draw within it.
 * On a CPU the running totals are summed one after the other as on the host, so a draw picks the
 * host's token; the nucleus orders equal probabilities as the host does, lower id first (common in
 * f16, whose logits take fewer values).
 */
public final class DeviceDraws {
    /** 2⁻⁴⁸: the relative step that orders equal probabilities by id (see {@link #draw}). */
    private static final double TIE_STEP = 0x1p-48;

    private DeviceDraws() {}

    /**
     * A draw a sampler asks for before the step's logits are read.
     *
     * @param uniform the sampler's random number in [0, 1), already taken from its generator
     */
    public record Plan(double temperature, double topP, double uniform) {}

    /**
     * @param id the drawn token, or -1 when the row is broken (NaN, all −∞ or +∞ logits: the total
     *     is not a positive finite number) or rounding left the uniform past the last token; the
     *     sampler then draws from the whole row
     * @param total the sum of the row's probabilities
     */
    public record Drawn(int id, double total) {}

    /**
     * @param logits (rows, vocab), f32
     * @param uniforms one per row
     */
    public static Drawn[] draw(NDArray logits, double temperature, double topP, double[] uniforms) {
        int rows = (int) logits.getShape().get(0);
        long vocab = logits.getShape().get(1);
        if (uniforms.length != rows) {
            throw new IllegalArgumentException(uniforms.length + " uniform numbers for " + rows + " rows");
        }
        NDManager manager = logits.getManager();
        NDArray probabilities = ForwardPass.softmaxOnDevice(logits, temperature);
        NDArray cumulative = probabilities.toType(DataType.FLOAT64, false).cumSum(1);
        NDArray total = cumulative.get(":, -1:"); // (rows, 1), summed in vocabulary order
        NDArray u = manager.create(uniforms, new Shape(rows, 1));
        long[] picked; // per row: token id, then (top-p) its rank and the nucleus's last rank
        if (topP >= 1) {
            picked = cumulative.lte(total.mul(u)).sum(new int[] {1}).toLongArray();
        } else {
            // descending, equal probabilities lower id first as on the host: p · (1 − id · 2⁻⁴⁸) moves each by
            // less than the gap between neighbouring f32 values (for ids below 2¹⁹), and f64 keeps the steps apart
            NDArray ids = manager.arange(0, (int) vocab, 1, DataType.FLOAT64);
            NDArray keys = probabilities.toType(DataType.FLOAT64, false).mul(ids.mul(-TIE_STEP).add(1.0));
            NDArray order = keys.argSort(1, false);
            NDArray ranked = probabilities.gather(order, 1).toType(DataType.FLOAT64, false).cumSum(1);
            NDArray last = ranked.lt(total.mul(topP)).sum(new int[] {1}, true).clip(0, vocab - 1);
            NDArray rank = ranked.lte(ranked.gather(last, 1).mul(u)).sum(new int[] {1}, true).clip(0, vocab - 1);
            picked = NDArrays.concat(new NDList(order.gather(rank, 1), rank, last), 1).toLongArray();
        }
        double[] totals = total.toDoubleArray();
        int stride = topP >= 1 ? 1 : 3;
        Drawn[] drawn = new Drawn[rows];
        for (int r = 0; r < rows; r++) {
            long id = picked[r * stride];
            // past the vocabulary or past the nucleus is rounding: the sampler draws from the whole row
            boolean inRange = id < vocab && (stride == 1 || picked[r * stride + 1] <= picked[r * stride + 2]);
            boolean usable = totals[r] > 0 && !Double.isInfinite(totals[r]) && inRange;
            drawn[r] = new Drawn(usable ? (int) id : -1, totals[r]);
        }
        return drawn;
    }
}
