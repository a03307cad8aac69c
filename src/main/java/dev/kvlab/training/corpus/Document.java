package dev.kvlab.training.corpus;

/**
 * One plain-text document of the training corpus.
 *
 * @param source which package it came from
 * @param name the data file's base name, e.g. {@code 1807_thomas_jefferson_dr} or {@code chapter_135}
 * @param text cleaned text: {@code \n} line ends, paragraphs separated by one blank line, trimmed
 */
public record Document(Source source, String name, String text) {

    /** The corpus packages. */
    public enum Source { SOTU, MOBY_DICK }
}
