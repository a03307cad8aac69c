package dev.kvlab.serving;

import dev.kvlab.config.KvlabProperties;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/** {@code POST /generate}: one non-streaming generation with the request's own KV-cache policy. */
@RestController
class GenerateController {

    private final GenerationService generation;
    private final KvlabProperties.Serving limits;

    GenerateController(GenerationService generation, KvlabProperties properties) {
        this.generation = generation;
        this.limits = properties.serving();
    }

    @PostMapping(path = "/generate", consumes = MediaType.APPLICATION_JSON_VALUE)
    GenerateResponse generate(@RequestBody GenerateRequest body) {
        return generation.generate(body.toGeneration(limits, generation.architecture()));
    }
}
