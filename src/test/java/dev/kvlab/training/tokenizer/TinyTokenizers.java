package dev.kvlab.training.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** Test fixture: a small byte-level BPE {@code tokenizer.json} trained on a fixed English text. */
public final class TinyTokenizers {

    /** A few sentences in the corpus's style; enough for a few hundred merges. */
    public static final String TEXT = """
            Fellow-Citizens of the Senate and House of Representatives: I trust I do not deceive myself
            when I indulge the persuasion that I have never met you at any period when more than at the
            present the situation of our public affairs has afforded just cause for mutual congratulation.
            Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in
            my purse, and nothing particular to interest me on shore, I thought I would sail about a
            little and see the watery part of the world. The pass key is 48213. Remember it.
            In 1776 the revenue was $12,345,678; in 1790 it rose by 42 per cent.
            """;

    private TinyTokenizers() {}

    /** Trains on {@link #TEXT} and writes {@code dir/tokenizer.json}; returns its path. */
    public static Path write(Path dir, int vocabSize) {
        BpeTrainer trainer = new BpeTrainer(vocabSize);
        trainer.addText(TEXT);
        trainer.addText(TEXT.toUpperCase());
        Path file = dir.resolve("tokenizer.json");
        try {
            TokenizerJsonWriter.write(trainer.train(), file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }
}
