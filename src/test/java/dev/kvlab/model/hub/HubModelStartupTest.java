package dev.kvlab.model.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kvlab.config.KvlabProperties;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.serving.EngineConfiguration;
import dev.kvlab.serving.ModelLoadException;
import dev.kvlab.testing.TinyModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Configuration;

/** {@code kvlab.model.id} at start-up: the engine takes the model from the Hub cache, or says what is wrong. */
class HubModelStartupTest {

    @TempDir
    Path tmp;

    @Configuration(proxyBeanMethods = false)
    @EnableConfigurationProperties(KvlabProperties.class)
    static class Properties {}

    private final ApplicationContextRunner engine = new ApplicationContextRunner()
            .withUserConfiguration(Properties.class, EngineConfiguration.class)
            .withPropertyValues("kvlab.device=cpu");

    @Test
    void aModelIdIsServedFromTheCacheWithoutTheNetwork() throws Exception {
        Path cache = tmp.resolve("hub-cache");
        try (FakeHub hub = new FakeHub()) {
            hub.serve("acme/tiny-llama", TinyModels.llama().writeTo(tmp.resolve("remote")).dir());
            new HubDownloader(hub.endpoint(), null, cache).download("acme/tiny-llama");
        } // the hub is gone and HF_ENDPOINT is not set: a request would go to huggingface.co and fail

        engine.withPropertyValues("kvlab.model.id=acme/tiny-llama", "kvlab.model.cache-dir=" + cache,
                "kvlab.model.path=/nonexistent").run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context.getBean(ModelFolder.class).dir()).isEqualTo(cache.resolve("acme--tiny-llama"));
                });
    }

    @Test
    void aMalformedModelIdStopsStartUpNamingTheProperty() {
        engine.withPropertyValues("kvlab.model.id=../../etc", "kvlab.model.cache-dir=" + tmp).run(context -> {
            Throwable failure = context.getStartupFailure();
            while (failure != null && !(failure instanceof ModelLoadException)) {
                failure = failure.getCause();
            }
            assertThat(failure).isInstanceOfSatisfying(ModelLoadException.class,
                    e -> assertThat(e.field()).isEqualTo("kvlab.model.id"))
                    .hasMessageContaining("'../../etc' is not a Hub repo id");
        });
    }
}
