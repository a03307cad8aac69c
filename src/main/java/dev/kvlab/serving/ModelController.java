package dev.kvlab.serving;

import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.TransformerModel;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** {@code GET /model}: the loaded model's shape, dtype, device and KV bytes per token. */
@RestController
public class ModelController {

    private final ModelInfo info;

    ModelController(ModelFolder folder, TransformerModel model) {
        this.info = ModelInfo.of(folder, model);
    }

    @GetMapping("/model")
    ModelInfo model() {
        return info;
    }
}
