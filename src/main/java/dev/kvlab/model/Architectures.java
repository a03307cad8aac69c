package dev.kvlab.model;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.kvlab.model.gpt2.Gpt2Config;
import dev.kvlab.model.gpt2.Gpt2Configs;
import dev.kvlab.model.gpt2.Gpt2Loader;
import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.model.llama.LlamaConfigs;
import dev.kvlab.model.llama.LlamaConfigs.Variant;
import dev.kvlab.model.llama.LlamaLoader;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import tools.jackson.databind.JsonNode;

/**
 * The one table from Hugging Face names to the package that implements each architecture: the
 * {@code architectures} and {@code model_type} names it answers to, how it reads {@code config.json},
 * and how it builds its decoder. An architecture is added here and in its own package, nowhere else.
 */
final class Architectures {

    /** One Hugging Face model class: its names in {@code config.json} and the parser for the rest. */
    private record Name(String architecture, String modelType, Function<ConfigJson, ModelConfig> parser) {}

    /** Builds one architecture's decoder from a config of that architecture and the checkpoint's tensors. */
    private interface DecoderFactory {
        AbstractDecoder create(ModelConfig config, DeviceTensors tensors, NDManager manager, DataType dtype);
    }

    private static final List<Name> NAMES = List.of(
            new Name("LlamaForCausalLM", "llama", json -> LlamaConfigs.parse(json, Variant.LLAMA)),
            new Name("MistralForCausalLM", "mistral", json -> LlamaConfigs.parse(json, Variant.MISTRAL)),
            new Name("Qwen2ForCausalLM", "qwen2", json -> LlamaConfigs.parse(json, Variant.QWEN2)),
            new Name("GPT2LMHeadModel", "gpt2", Gpt2Configs::parse));

    private static final Map<Architecture, DecoderFactory> DECODERS = Map.of(
            Architecture.LLAMA, (config, t, m, dtype) -> LlamaLoader.load((LlamaConfig) config, t, m, dtype),
            Architecture.GPT2, (config, t, m, dtype) -> Gpt2Loader.load((Gpt2Config) config, t, m, dtype));

    private Architectures() {}

    /** Parses {@code config.json} with the parser its {@code architectures[0]} (else {@code model_type}) names. */
    static ModelConfig parse(ConfigJson json) {
        return name(json).parser().apply(json);
    }

    /** The decoder of {@code config}'s architecture, over tensors read from the checkpoint. */
    static AbstractDecoder decoder(ModelConfig config, DeviceTensors tensors, NDManager manager, DataType dtype) {
        return DECODERS.get(config.architecture()).create(config, tensors, manager, dtype);
    }

    /** The Hugging Face class {@code config.json} names: {@code Qwen2ForCausalLM} for a Qwen2 checkpoint. */
    static String huggingFaceName(ConfigJson json) {
        return name(json).architecture();
    }

    /** The {@code architectures} names kvlab runs, in table order. */
    static List<String> supported() {
        return NAMES.stream().map(Name::architecture).toList();
    }

    private static Name name(ConfigJson json) {
        JsonNode architectures = json.node("architectures");
        if (architectures != null && !(architectures.isArray() && architectures.isEmpty())) {
            JsonNode first = architectures.isArray() ? architectures.get(0) : architectures;
            String architecture = first.isString() ? first.stringValue() : null;
            for (Name name : NAMES) {
                if (name.architecture().equals(architecture)) {
                    return name;
                }
            }
            throw json.unsupported("architectures", architecture != null ? architecture : first,
                    String.join(", ", supported()));
        }
        String modelType = json.string("model_type", null);
        if (modelType == null) {
            throw json.invalid("architectures", "is required but missing (and there is no model_type either)");
        }
        for (Name name : NAMES) {
            if (name.modelType().equals(modelType)) {
                return name;
            }
        }
        throw json.unsupported("model_type", modelType,
                NAMES.stream().map(Name::modelType).collect(Collectors.joining(", ")));
    }
}
