package dev.kvlab.serving;

import dev.kvlab.model.ModelConfigs;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** Turns a {@link ModelLoadException} into Spring Boot's short "APPLICATION FAILED TO START" report. */
public class ModelLoadFailureAnalyzer extends AbstractFailureAnalyzer<ModelLoadException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, ModelLoadException cause) {
        if ("kvlab.model.id".equals(cause.field())) {
            return new FailureAnalysis(cause.getMessage(), "Check kvlab.model.id (a Hugging Face repo id of a supported"
                    + " architecture), the network, HF_ENDPOINT and HF_TOKEN, and that kvlab.model.cache-dir is writable;"
                    + " or set kvlab.model.path to a local model folder instead.", cause);
        }
        String action = "Point kvlab.model.path (env KVLAB_MODEL_PATH) at a Hugging Face model folder holding"
                + " config.json, model.safetensors (or model.safetensors.index.json and its shards) and tokenizer.json"
                + (cause.field() == null ? "." : ", and check '" + cause.field() + "'.")
                + " Supported architectures: " + String.join(", ", ModelConfigs.supportedArchitectures()) + ".";
        return new FailureAnalysis(cause.getMessage(), action, cause);
    }
}
