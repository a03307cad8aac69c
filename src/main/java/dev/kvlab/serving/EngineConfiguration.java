package dev.kvlab.serving;

import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.Generator;
import dev.kvlab.generation.StepScheduler;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.metrics.SchedulerMetrics;
import dev.kvlab.model.ModelConfig;
import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.model.UnsupportedModelException;
import dev.kvlab.model.hub.HubDownloader;
import dev.kvlab.model.hub.HubException;
import dev.kvlab.model.weights.WeightException;
import dev.kvlab.tokenizer.TextTokenizer;
import dev.kvlab.tokenizer.TokenizerException;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Loads the engine once at start-up: the model folder named by {@code kvlab.model.path} (or fetched
 * from the Hugging Face Hub when {@code kvlab.model.id} is set), its weights
 * on {@code kvlab.device}, its tokenizer, and the {@link Generator} every request shares. The model
 * and tokenizer hold native memory and are closed when the context shuts down (after in-flight
 * requests have drained, with {@code server.shutdown=graceful}). Anything wrong with the model
 * stops start-up with a {@link ModelLoadException} naming the folder and the field at fault.
 */
@Configuration(proxyBeanMethods = false)
public class EngineConfiguration {

    private static final Logger log = LoggerFactory.getLogger(EngineConfiguration.class);

    @Bean
    ModelFolder modelFolder(KvlabProperties properties) {
        KvlabProperties.Model model = properties.model();
        Path dir = model.id() == null ? model.dir() : fromHub(model);
        try {
            return ModelFolder.open(dir);
        } catch (UnsupportedModelException e) {
            throw new ModelLoadException(dir, e.field(), e.getMessage(), e);
        }
    }

    /** {@code kvlab.model.id} names a Hub repo: fetch it into {@code kvlab.model.cache-dir} unless already there. */
    private static Path fromHub(KvlabProperties.Model model) {
        Path cacheDir = Path.of(model.cacheDir());
        try {
            return HubDownloader.fromEnvironment(cacheDir).download(model.id());
        } catch (HubException e) {
            throw new ModelLoadException(cacheDir.resolve(HubDownloader.folderName(model.id(),
                    HubDownloader.DEFAULT_REVISION)), "kvlab.model.id", e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(cacheDir, "kvlab.model.id", e.getMessage(), e);
        }
    }

    @Bean(destroyMethod = "close")
    TransformerModel transformerModel(ModelFolder folder, KvlabProperties properties) {
        long start = System.nanoTime();
        TransformerModel model;
        try {
            model = ModelLoader.load(folder.dir(),
                    new ModelLoader.Options(properties.device(), properties.model().dataType(),
                            properties.cpu().decodeThreads()));
        } catch (UnsupportedModelException e) {
            throw new ModelLoadException(folder.dir(), e.field(), e.getMessage(), e);
        } catch (WeightException | IllegalArgumentException e) {
            throw new ModelLoadException(folder.dir(), null, e.getMessage(), e);
        }
        ModelConfig c = model.config();
        log.info("Loaded {} from {}: {} parameters, {} layers, {} heads ({} KV), {} on {}, KV cache {} bytes/token,"
                        + " in {} ms",
                folder.architectureName(), folder.dir().toAbsolutePath(), model.parameterCount(),
                c.numLayers(), c.numHeads(), c.numKvHeads(), model.dtype(),
                DeviceMemoryProbe.deviceName(model.device()),
                model.kvSpec().bytesPerToken(), (System.nanoTime() - start) / 1_000_000);
        return model;
    }

    @Bean(destroyMethod = "close")
    TextTokenizer textTokenizer(ModelFolder folder) {
        try {
            TextTokenizer tokenizer = TextTokenizer.load(folder.tokenizerFile());
            if (tokenizer.vocabSize() > folder.config().vocabSize()) {
                int tokens = tokenizer.vocabSize();
                tokenizer.close();
                throw new ModelLoadException(folder.dir(), "vocab_size", "tokenizer.json has " + tokens
                        + " tokens but config.json vocab_size is " + folder.config().vocabSize(), null);
            }
            return tokenizer;
        } catch (TokenizerException e) {
            throw new ModelLoadException(folder.dir(), ModelFolder.TOKENIZER_FILE, e.getMessage(), e);
        }
    }

    @Bean
    Generator generator(TransformerModel model, TextTokenizer tokenizer, ModelFolder folder,
            KvlabProperties properties) {
        return new Generator(model, tokenizer, folder.eosTokenIds(), folder.promptBosTokenId(),
                properties.prefill().chunk());
    }

    /**
     * The model's step scheduler: {@code kvlab.serving.max-concurrent} sequences per batch (8 on a CPU,
     * 32 on a GPU unless set) and {@code kvlab.serving.max-batch-tokens} tokens per step. Closed before
     * the model, so no step runs on a closed model.
     */
    @Bean(destroyMethod = "close")
    StepScheduler stepScheduler(Generator generator, KvlabProperties properties,
            ObjectProvider<MeterRegistry> registry) {
        int batch = properties.serving().maxConcurrent(generator.model().device().isGpu());
        int tokens = properties.serving().maxBatchTokens(batch, properties.prefill().chunk());
        log.info("Scheduler: up to {} sequences and {} tokens per step", batch, tokens);
        MeterRegistry meters = registry.getIfAvailable();
        return new StepScheduler(generator, batch, tokens,
                meters == null ? StepScheduler.StepObserver.NONE : new SchedulerMetrics(meters, batch, tokens));
    }
}
