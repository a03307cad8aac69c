package dev.kvlab.training.model;

import dev.kvlab.model.TransformerModel;
import dev.kvlab.model.llama.LlamaConfig;
import dev.kvlab.model.llama.LlamaModel;
import dev.kvlab.model.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Training checkpoints in {@code dir/latest}: a complete Hugging Face model folder (f32 weights,
 * loadable by the server as is), {@code optimizer.safetensors} (AdamW moments) and {@code
 * state.json} (step, tokens, seconds, arguments). A new checkpoint is written beside the old one
 * and swapped in by renames, so an interrupted save never loses the previous checkpoint.
 */
public final class Checkpoints {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final Path dir;
    private final Path tokenizerJson;
    private final int bosId;
    private final int eosId;
    private final String args;

    public Checkpoints(Path dir, Path tokenizerJson, int bosId, int eosId, String args) {
        this.dir = dir;
        this.tokenizerJson = tokenizerJson;
        this.bosId = bosId;
        this.eosId = eosId;
        this.args = args;
    }

    public Path dir() {
        return dir.resolve("latest");
    }

    public void save(LlamaTrainer trainer, double seconds) throws IOException {
        Path tmp = dir.resolve("latest.tmp");
        Path latest = dir.resolve("latest");
        Path old = dir.resolve("latest.old");
        deleteRecursively(tmp);
        trainer.saveModel(tmp, tokenizerJson, bosId, eosId, SafetensorsWriter.Dtype.F32);
        trainer.saveOptimizer(tmp.resolve("optimizer.safetensors"));
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("step", trainer.step());
        state.put("tokens", trainer.tokensSeen());
        state.put("seconds", seconds);
        state.put("args", args);
        Files.writeString(tmp.resolve("state.json"), JSON.writeValueAsString(state) + "\n");
        deleteRecursively(old);
        if (Files.exists(latest)) {
            Files.move(latest, old);
        }
        Files.move(tmp, latest);
        deleteRecursively(old);
    }

    /** Whether a checkpoint exists to resume from. */
    public boolean exists() {
        return Files.isRegularFile(source().resolve("state.json"));
    }

    private Path source() {
        Path latest = dir.resolve("latest");
        return Files.isDirectory(latest) ? latest : dir.resolve("latest.old");
    }

    /** A trainer in the state of the checkpoint. */
    public LlamaTrainer resume(TrainingOptions options, LlamaConfig config, TrainingData data) throws IOException {
        Path from = source();
        JsonNode state = JSON.readTree(Files.readString(from.resolve("state.json")));
        try (TransformerModel loaded = LlamaTrainer.load(from)) {
            if (!loaded.config().equals(config)) {
                throw new IllegalArgumentException("checkpoint " + from + " holds " + loaded.config()
                        + ", the options ask for " + config);
            }
            LlamaTrainer trainer = new LlamaTrainer(options, config, data, (LlamaModel) loaded);
            trainer.restore(from.resolve("optimizer.safetensors"), state.get("step").asInt(),
                    state.get("tokens").asLong(), state.get("seconds").asDouble());
            return trainer;
        }
    }

    static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(path)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
