package dev.kvlab.generation;

import ai.djl.ndarray.NDScope;
import dev.kvlab.model.ContextOverflowException;
import dev.kvlab.model.CachedAttention;
import dev.kvlab.model.DeviceDraws;
import dev.kvlab.model.ForwardPass;
import dev.kvlab.model.SequenceInput;
import dev.kvlab.model.TransformerModel;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The sequences generating together, and one step over them (iteration-level scheduling, as in Orca
 * and vLLM): one forward pass takes the next token of every decoding sequence plus at most one prompt
 * chunk of the oldest sequence still prefilling, bounded by {@code maxBatchTokens} (chunked prefill
 * piggybacked on decode steps, as in Sarathi). A sequence leaves the moment it finishes, stops, fails
 * or is cancelled. When a step fails (a device out-of-memory), no cache has changed: the sequence that
 * was prefilling, else the newest, is failed and freed, and the others run again at the next step.
 * One thread drives a batch.
 */
final class Batch {
    private final TransformerModel model;
    private final int maxBatchTokens;
    private final List<Sequence> running = new ArrayList<>(); // in join order

    /** What one step did, for the scheduler's meters. */
    record Step(int sequences, int tokens, long nanos) {}

    /** @param maxBatchTokens most tokens one step feeds the model (decode rows plus the prefill chunk) */
    Batch(TransformerModel model, int maxBatchTokens) {
        if (maxBatchTokens < 1) {
            throw new IllegalArgumentException("maxBatchTokens must be ≥ 1");
        }
        this.model = model;
        this.maxBatchTokens = maxBatchTokens;
    }

    int size() {
        return running.size();
    }

    boolean isEmpty() {
        return running.isEmpty();
    }

    /** Takes a sequence in; it joins at the next step. A failure to make its cache fails only it. */
    void join(Sequence sequence) {
        try {
            sequence.start();
        } catch (RuntimeException | Error e) {
            sequence.fail(e);
            return;
        }
        running.add(sequence);
    }

    /** Cancels every sequence: they end at the next step with {@link GenerationCancelledException}. */
    void cancelAll(String why) {
        running.forEach(s -> s.cancel(why));
    }

    /** Fails every sequence at once (the driving thread is going away). */
    void failAll(Throwable failure) {
        running.forEach(s -> s.fail(failure));
        running.clear();
    }

    /** Runs one step; returns null when no sequence was left to run. */
    Step step() {
        long start = System.nanoTime();
        dropCancelled();
        List<Sequence> members = new ArrayList<>();
        List<SequenceInput> inputs = new ArrayList<>();
        int tokens = 0;
        // decode rows first, every decoding sequence one token, those the model can attend for in groups
        // (rotated by their positions, short unquantized caches) leading, longest first, so that caches of
        // similar lengths are neighbours (CachedAttention.plan)
        List<Sequence> decoding = new ArrayList<>();
        for (Sequence s : running) {
            if (!s.prefilling()) {
                decoding.add(s);
            }
        }
        decoding.sort(Comparator.<Sequence, Boolean>comparing(s -> !CachedAttention.joinsGroup(s.cache()))
                .thenComparing(s -> -s.cache().storedTokens()));
        for (Sequence s : decoding) {
            if (fits(s, 1)) {
                members.add(s);
                inputs.add(new SequenceInput(s.cache(), s.nextInput(1), false));
                tokens++;
            }
        }
        for (Sequence s : List.copyOf(running)) { // then one prompt chunk, in the room left
            if (s.prefilling() && tokens < maxBatchTokens) {
                int[] chunk = s.nextInput(maxBatchTokens - tokens);
                if (fits(s, chunk.length)) {
                    members.add(s);
                    inputs.add(new SequenceInput(s.cache(), chunk, s.needsAllLogits()));
                    tokens += chunk.length;
                    break;
                }
            }
        }
        if (members.isEmpty()) {
            return running.isEmpty() ? null : new Step(0, 0, System.nanoTime() - start);
        }
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            ForwardPass pass;
            try {
                pass = model.forward(inputs);
            } catch (RuntimeException | Error e) {
                remove(culprit(members), e);
                return new Step(members.size(), tokens, System.nanoTime() - start);
            }
            if (pass.drawsOnDevice()) { // elsewhere each sampler takes its random number when it draws
                pass.planDraws(drawPlans(members, inputs));
            }
            for (int i = 0; i < members.size(); i++) {
                Sequence s = members.get(i);
                try {
                    pass.commit(i);
                    s.advance(inputs.get(i).tokens().length, new PassLogits(pass, i));
                } catch (RuntimeException | Error e) {
                    remove(s, e);
                }
                if (s.done()) {
                    running.remove(s);
                }
            }
        }
        return new Step(members.size(), tokens, System.nanoTime() - start);
    }

    /** What each member's sampler will draw after this step, for the pass to draw on the device at once. */
    private static DeviceDraws.Plan[] drawPlans(List<Sequence> members, List<SequenceInput> inputs) {
        DeviceDraws.Plan[] plans = new DeviceDraws.Plan[members.size()];
        for (int i = 0; i < plans.length; i++) {
            plans[i] = members.get(i).planDraw(inputs.get(i).tokens().length);
        }
        return plans;
    }

    /**
     * Whether the model has positions for {@code count} more tokens of {@code s}. A decoding sequence
     * that has none left ends as at its token limit; a prompt that does not fit fails.
     */
    private boolean fits(Sequence s, int count) {
        try {
            model.checkPositions(s.cache().seenTokens(), count);
            return true;
        } catch (ContextOverflowException e) {
            if (s.prefilling()) {
                remove(s, e);
            } else {
                try {
                    s.outOfPositions();
                } catch (RuntimeException | Error listenerFailure) {
                    s.fail(listenerFailure);
                }
                running.remove(s);
            }
            return false;
        }
    }

    /** The sequence a failed step gives up: the one prefilling (its chunk is the step's growth), else the newest. */
    private static Sequence culprit(List<Sequence> members) {
        for (Sequence s : members) {
            if (s.prefilling()) {
                return s;
            }
        }
        return members.stream().max(Comparator.comparingLong(Sequence::joinOrder)).orElseThrow();
    }

    private void dropCancelled() {
        for (Sequence s : List.copyOf(running)) {
            String why = s.cancelReason();
            if (why != null) {
                remove(s, new GenerationCancelledException(why));
            }
        }
    }

    private void remove(Sequence s, Throwable failure) {
        running.remove(s);
        s.fail(failure);
    }
}
