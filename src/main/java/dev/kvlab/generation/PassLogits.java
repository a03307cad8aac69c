package dev.kvlab.generation;

import dev.kvlab.model.DeviceDraws;
import dev.kvlab.model.ForwardPass;

/** One sequence's logits in a batched forward pass: each read goes to the pass, which copies only what is read. */
record PassLogits(ForwardPass pass, int sequence) implements StepLogits {

    @Override
    public float[] last() {
        return pass.lastLogits(sequence);
    }

    @Override
    public float[] row(int r) {
        return pass.logitRow(sequence, r);
    }

    @Override
    public ForwardPass.Argmax argmax() {
        return pass.lastArgmax(sequence);
    }

    @Override
    public ForwardPass.Top top(int k) {
        return pass.lastTop(sequence, k);
    }

    @Override
    public float[] probabilities(double temperature) {
        return pass.lastProbabilities(sequence, temperature);
    }

    @Override
    public DeviceDraws.Drawn drawn() {
        return pass.drawn(sequence);
    }
}
