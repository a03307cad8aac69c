package dev.kvlab.training.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Writes a {@link BpeModel} as a standard Hugging Face {@code tokenizer.json} (format 1.0), which
 * DJL's {@code HuggingFaceTokenizer} and Python's {@code tokenizers} both load:
 * <ul>
 *   <li>pre-tokenizer: {@code Sequence[Digits(individual_digits=true),
 *       ByteLevel(add_prefix_space=false, use_regex=true)]}, the split {@link PreTokenizer}
 *       trains on;</li>
 *   <li>model: BPE over the byte-level alphabet with no unknown token, so every byte sequence
 *       encodes and decodes back exactly;</li>
 *   <li>decoder: ByteLevel; no normalizer and no post-processor (callers add {@code <|bos|>});</li>
 *   <li>added tokens: the special tokens. Their literal text in an input still encodes to the
 *       special id, as with GPT-2's {@code <|endoftext|>}.</li>
 * </ul>
 */
public final class TokenizerJsonWriter {

    private TokenizerJsonWriter() {}

    /** Writes {@code tokenizer.json} at {@code file}. */
    public static void write(BpeModel model, Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, toJson(model));
    }

    /**
     * Writes {@code tokenizer.json} and a matching {@code tokenizer_config.json} (bos/eos names for
     * Hugging Face {@code transformers}) into a model folder, creating it if needed.
     */
    public static void writeToModelFolder(BpeModel model, Path modelDir, int modelMaxLength) throws IOException {
        Files.createDirectories(modelDir);
        write(model, modelDir.resolve("tokenizer.json"));
        ObjectNode config = JsonMapper.shared().createObjectNode();
        config.put("tokenizer_class", "PreTrainedTokenizerFast");
        config.put("bos_token", BpeTrainer.BOS);
        config.put("eos_token", BpeTrainer.EOS);
        config.put("add_bos_token", false);
        config.put("add_eos_token", false);
        config.put("clean_up_tokenization_spaces", false);
        config.put("model_max_length", modelMaxLength);
        Files.writeString(modelDir.resolve("tokenizer_config.json"),
                JsonMapper.shared().writerWithDefaultPrettyPrinter().writeValueAsString(config));
    }

    /** The {@code tokenizer.json} text. */
    public static String toJson(BpeModel model) {
        JsonMapper json = JsonMapper.shared();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String special : model.specialTokens()) {
            added.addObject()
                    .put("id", model.specialId(special))
                    .put("content", special)
                    .put("single_word", false)
                    .put("lstrip", false)
                    .put("rstrip", false)
                    .put("normalized", false)
                    .put("special", true);
        }
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode steps = pre.putArray("pretokenizers");
        steps.addObject().put("type", "Digits").put("individual_digits", true);
        byteLevel(steps.addObject());
        root.putNull("post_processor");
        byteLevel(root.putObject("decoder"));

        ObjectNode bpe = root.putObject("model");
        bpe.put("type", "BPE");
        bpe.putNull("dropout");
        bpe.putNull("unk_token");
        bpe.putNull("continuing_subword_prefix");
        bpe.putNull("end_of_word_suffix");
        bpe.put("fuse_unk", false);
        bpe.put("byte_fallback", false);
        bpe.put("ignore_merges", false);
        ObjectNode vocab = bpe.putObject("vocab");
        for (int id = 0; id < model.vocab().size(); id++) {
            vocab.put(model.vocab().get(id), id);
        }
        ArrayNode merges = bpe.putArray("merges");
        for (BpeModel.Merge merge : model.merges()) {
            merges.add(merge.left() + " " + merge.right()); // byte-level tokens never hold a plain space
        }
        return json.writerWithDefaultPrettyPrinter().writeValueAsString(root);
    }

    private static void byteLevel(ObjectNode node) {
        node.put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", true);
    }
}
