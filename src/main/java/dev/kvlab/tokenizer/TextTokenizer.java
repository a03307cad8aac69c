package dev.kvlab.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A Hugging Face {@code tokenizer.json} run by DJL's native tokenizers library: the one way the
 * engine turns text into token ids and back.
 *
 * <p>{@link #encode} never adds special tokens (callers prepend a bos id themselves when the model
 * wants one) and {@link #decode} drops them. The vocabulary is read from the JSON, since DJL does
 * not expose it.
 *
 * <p>Thread-safe: the Rust tokenizer encodes and decodes through shared references and guards its
 * word cache with a lock, so concurrent requests share one instance. A read-write lock only keeps
 * {@link #close} from freeing the native tokenizer while a call is running.
 */
public final class TextTokenizer implements Closeable {

    /** No special tokens added; no truncation (DJL would otherwise cut every input at 512 tokens). */
    private static final Map<String, String> OPTIONS =
            Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false");

    private final HuggingFaceTokenizer tokenizer;
    private final Map<String, Integer> vocab;
    private final Set<Integer> specialIds;
    private final int vocabSize;
    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    private TextTokenizer(HuggingFaceTokenizer tokenizer, Map<String, Integer> vocab, Set<Integer> specialIds) {
        this.tokenizer = tokenizer;
        this.vocab = vocab;
        this.specialIds = specialIds;
        this.vocabSize = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
    }

    /**
     * Loads a tokenizer from a {@code tokenizer.json} file, or from a model folder holding one.
     *
     * @throws TokenizerException if the file is missing, is not valid JSON or is not a tokenizer
     */
    public static TextTokenizer load(Path tokenizerJson) {
        Path file = Files.isDirectory(tokenizerJson) ? tokenizerJson.resolve("tokenizer.json") : tokenizerJson;
        if (!Files.isRegularFile(file)) {
            throw new TokenizerException("tokenizer.json not found: " + file.toAbsolutePath());
        }
        JsonNode root;
        try {
            root = JsonMapper.shared().readTree(file);
        } catch (JacksonException e) {
            throw new TokenizerException("tokenizer.json is not valid JSON: " + file + ": " + e.getOriginalMessage(), e);
        }
        Map<String, Integer> vocab = new HashMap<>();
        Set<Integer> specialIds = new HashSet<>();
        readVocabulary(root, file, vocab, specialIds);
        HuggingFaceTokenizer loaded;
        try {
            loaded = HuggingFaceTokenizer.newInstance(file, OPTIONS);
        } catch (IOException | RuntimeException e) {
            throw new TokenizerException("cannot load tokenizer " + file + ": " + e.getMessage(), e);
        }
        return new TextTokenizer(loaded, Map.copyOf(vocab), Set.copyOf(specialIds));
    }

    private static void readVocabulary(JsonNode root, Path file, Map<String, Integer> vocab, Set<Integer> specialIds) {
        JsonNode modelVocab = root.path("model").path("vocab");
        if (modelVocab.isObject()) {
            for (Map.Entry<String, JsonNode> e : modelVocab.properties()) {
                vocab.put(e.getKey(), e.getValue().asInt());
            }
        } else if (modelVocab.isArray()) { // Unigram: [[token, score], ...], the index is the id
            for (int id = 0; id < modelVocab.size(); id++) {
                vocab.put(modelVocab.get(id).path(0).asString(), id);
            }
        } else {
            throw new TokenizerException("tokenizer.json has no model.vocab: " + file);
        }
        for (JsonNode added : root.path("added_tokens")) {
            int id = added.path("id").asInt();
            vocab.put(added.path("content").asString(), id);
            if (added.path("special").asBoolean(false)) {
                specialIds.add(id);
            }
        }
    }

    /** Token ids of {@code text}, with no special tokens added. */
    public int[] encode(String text) {
        long[] ids = withNative(() -> tokenizer.encode(text, false, false).getIds());
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    /** The text of {@code ids}, skipping special tokens; invalid UTF-8 decodes to U+FFFD. */
    public String decode(int[] ids) {
        return decode(ids, 0, ids.length);
    }

    /**
     * The text of {@code ids[from, to)}, skipping special tokens.
     *
     * @throws IllegalArgumentException if an id is outside the vocabulary
     */
    public String decode(int[] ids, int from, int to) {
        long[] longIds = new long[to - from];
        for (int i = from; i < to; i++) {
            int id = ids[i];
            if (id < 0 || id >= vocabSize) {
                throw new IllegalArgumentException("token id " + id + " outside vocabulary of " + vocabSize);
            }
            longIds[i - from] = id;
        }
        return withNative(() -> tokenizer.decode(longIds, true));
    }

    /**
     * One token's text as it stands alone, special tokens written out ({@code <|eot_id|>}), for
     * per-token listings such as log-probabilities; a token holding part of a UTF-8 character shows
     * U+FFFD.
     *
     * @throws IllegalArgumentException if the id is outside the vocabulary
     */
    public String tokenText(int id) {
        if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException("token id " + id + " outside vocabulary of " + vocabSize);
        }
        return withNative(() -> tokenizer.decode(new long[] {id}, false));
    }

    /** One more than the largest token id, special tokens included. */
    public int vocabSize() {
        return vocabSize;
    }

    /** The id of a token string as the vocabulary spells it (e.g. {@code <|eos|>}, or {@code Ġthe}). */
    public OptionalInt tokenId(String token) {
        Integer id = vocab.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** Whether {@code id} is a special token, which {@link #decode} drops. */
    public boolean isSpecial(int id) {
        return specialIds.contains(id);
    }

    /** A fresh incremental decoder for one generation (not shared between threads). */
    public StreamingDecoder newStreamingDecoder() {
        return new StreamingDecoder(this);
    }

    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                tokenizer.close();
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    private <T> T withNative(Supplier<T> call) {
        lock.readLock().lock();
        try {
            if (closed) {
                throw new TokenizerException("tokenizer is closed");
            }
            return call.get();
        } finally {
            lock.readLock().unlock();
        }
    }
}
