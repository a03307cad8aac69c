package dev.kvlab.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * A Hugging Face model folder checked to be usable: its parsed {@code config.json}, and the
 * end/begin-of-sequence token ids (from {@code generation_config.json}, else {@code config.json}).
 * Weights are opened separately with {@code WeightSources.open(dir)}.
 *
 * @param eosTokenIds generation stops on any of these; empty when the model names none
 * @param bosTokenId null when the model names none
 * @param tokenizerOmitsBos whether {@code tokenizer_config.json} turns the bos off, as Qwen2's does
 *     ({@code "bos_token": null}) or any with {@code "add_bos_token": false}: Hugging Face's tokenizer
 *     then starts no prompt with it, although {@code config.json} names a bos id
 * @param architectureName the Hugging Face class {@code config.json} names, e.g. {@code
 *     MistralForCausalLM} for a checkpoint that runs as {@link Architecture#LLAMA}
 */
public record ModelFolder(Path dir, ModelConfig config, int[] eosTokenIds, Integer bosTokenId,
        boolean tokenizerOmitsBos, String architectureName) {

    public static final String TOKENIZER_FILE = "tokenizer.json";
    public static final String GENERATION_CONFIG_FILE = "generation_config.json";
    public static final String TOKENIZER_CONFIG_FILE = "tokenizer_config.json";

    public ModelFolder {
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(config, "config");
        eosTokenIds = eosTokenIds == null ? new int[0] : eosTokenIds.clone();
    }

    /**
     * Checks that {@code dir} holds {@code config.json} and {@code tokenizer.json}, parses the config
     * and reads the special token ids.
     *
     * @throws UnsupportedModelException naming the missing file or the offending config field
     */
    public static ModelFolder open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new UnsupportedModelException(null, "model folder " + dir.toAbsolutePath() + " does not exist");
        }
        Path configFile = requireFile(dir, ModelConfigs.CONFIG_FILE);
        requireFile(dir, TOKENIZER_FILE);
        ConfigJson config = ConfigJson.read(configFile);
        ModelConfig modelConfig = ModelConfigs.parse(config);
        Path generationFile = dir.resolve(GENERATION_CONFIG_FILE);
        ConfigJson generation = Files.isRegularFile(generationFile) ? ConfigJson.read(generationFile) : null;
        int[] eos = generation == null ? null : generation.intOrIntList("eos_token_id");
        if (eos == null) {
            eos = config.intOrIntList("eos_token_id");
        }
        Integer bos = generation == null ? null : generation.optionalNonNegativeInt("bos_token_id");
        if (bos == null) {
            bos = config.optionalNonNegativeInt("bos_token_id");
        }
        Path tokenizerConfigFile = dir.resolve(TOKENIZER_CONFIG_FILE);
        ConfigJson tokenizerConfig = Files.isRegularFile(tokenizerConfigFile)
                ? ConfigJson.read(tokenizerConfigFile) : null;
        boolean omitsBos = tokenizerConfig != null
                && (!tokenizerConfig.bool("add_bos_token", true) || tokenizerConfig.isExplicitNull("bos_token"));
        return new ModelFolder(dir, modelConfig, eos, bos, omitsBos, Architectures.huggingFaceName(config));
    }

    /**
     * The id every prompt starts with, or null: the model's bos when its architecture is trained with
     * one before every document (Llama, Mistral, Qwen2; not GPT-2) and its tokenizer config does not
     * turn it off.
     */
    public Integer promptBosTokenId() {
        return config.architecture().prependsBos() && !tokenizerOmitsBos ? bosTokenId : null;
    }

    private static Path requireFile(Path dir, String name) {
        Path file = dir.resolve(name);
        if (!Files.isRegularFile(file)) {
            throw new UnsupportedModelException(name,
                    "model folder " + dir.toAbsolutePath() + " has no " + name + " (looked for " + file.toAbsolutePath() + ")");
        }
        return file;
    }

    public Path tokenizerFile() {
        return dir.resolve(TOKENIZER_FILE);
    }

    @Override
    public int[] eosTokenIds() {
        return eosTokenIds.clone();
    }

    public boolean isEos(int tokenId) {
        for (int eos : eosTokenIds) {
            if (eos == tokenId) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelFolder other && dir.equals(other.dir) && config.equals(other.config)
                && Arrays.equals(eosTokenIds, other.eosTokenIds) && Objects.equals(bosTokenId, other.bosTokenId)
                && tokenizerOmitsBos == other.tokenizerOmitsBos
                && Objects.equals(architectureName, other.architectureName);
    }

    @Override
    public int hashCode() {
        return Objects.hash(dir, config, Arrays.hashCode(eosTokenIds), bosTokenId, tokenizerOmitsBos,
                architectureName);
    }

    @Override
    public String toString() {
        return "ModelFolder[dir=" + dir + ", config=" + config + ", eosTokenIds=" + Arrays.toString(eosTokenIds)
                + ", bosTokenId=" + bosTokenId + ", tokenizerOmitsBos=" + tokenizerOmitsBos + ", architectureName="
                + architectureName + "]";
    }
}
