package dev.kvlab.serving;

import dev.kvlab.generation.Generator;
import dev.kvlab.model.TransformerModel;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.resttestclient.autoconfigure.AutoConfigureRestTestClient;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.servlet.client.RestTestClient;

/**
 * The whole server on a random port, serving a tiny random Llama written by
 * {@link dev.kvlab.testing.TinyModels}, with the model behind a {@link FaultyModel} hook. The engine
 * really runs, so counts, cache bytes and seeds are checked end to end. Subclasses share one context.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"kvlab.device=cpu", "kvlab.prefill.chunk=8", "kvlab.serving.max-prompt-tokens=64"})
@AutoConfigureRestTestClient
@Import(FaultyModel.Hook.class)
abstract class ServingIntegrationTest {

    static final Path MODEL_DIR = HttpFixture.tinyModel("tiny-llama");

    @DynamicPropertySource
    static void model(DynamicPropertyRegistry registry) {
        registry.add("kvlab.model.path", MODEL_DIR::toString);
    }

    @LocalServerPort
    int port;

    @Autowired
    RestTestClient client;

    @Autowired
    Generator generator;

    @Autowired
    TransformerModel model;

    @AfterEach
    void resetFaults() {
        faults().reset();
    }

    FaultyModel faults() {
        return (FaultyModel) model;
    }

    String scrape() {
        return HttpFixture.get(port, "/actuator/prometheus");
    }
}
