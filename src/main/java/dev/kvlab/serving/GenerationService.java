package dev.kvlab.serving;

import ai.djl.engine.EngineException;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationCancelledException;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.GenerationResult;
import dev.kvlab.generation.Generator;
import dev.kvlab.generation.TokenListener;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.metrics.GenerationMetrics;
import dev.kvlab.model.Architecture;
import dev.kvlab.model.ContextOverflowException;
import java.time.Duration;
import java.util.Locale;
import java.util.UUID;
import org.springframework.stereotype.Service;

/**
 * Runs validated generation requests on the shared model: refuses prompts that are too long before
 * they queue, waits for a slot ({@link AdmissionControl}), generates, records the meters and builds
 * the response. Engine failures a client caused become problem responses, never a 500.
 */
@Service
class GenerationService {

    private final Generator generator;
    private final AdmissionControl admission;
    private final GenerationMetrics metrics;
    private final DeviceMemoryProbe memory;
    private final int maxPromptTokens;

    GenerationService(Generator generator, AdmissionControl admission, GenerationMetrics metrics,
            DeviceMemoryProbe memory, KvlabProperties properties) {
        this.generator = generator;
        this.admission = admission;
        this.metrics = metrics;
        this.memory = memory;
        this.maxPromptTokens = properties.serving().maxPromptTokens();
    }

    /** The loaded model's architecture, which decides which cache options apply. */
    Architecture architecture() {
        return generator.model().config().architecture();
    }

    /**
     * @throws ApiException 413 for a prompt over {@code kvlab.serving.max-prompt-tokens} or past the
     *     model's positions, 400 for a prompt that encodes to nothing, 429 when the queue is full
     */
    GenerateResponse generate(GenerationRequest request) {
        long arrival = System.nanoTime();
        int promptTokens = generator.promptTokens(request.prompt()).length;
        if (promptTokens > maxPromptTokens) {
            throw ApiException.tooLarge("prompt", "is " + promptTokens + " tokens, more than the " + maxPromptTokens
                    + " allowed (kvlab.serving.max-prompt-tokens)", null);
        }
        if (promptTokens == 0) {
            throw ApiException.badRequest("prompt", "encodes to no tokens and the model has no bos token");
        }
        try (AdmissionControl.Permit permit = admission.acquire()) {
            GenerationResult result = generator.generate(request, TokenListener.NONE);
            long end = System.nanoTime();
            metrics.recordGeneration(result.cache().policy(), result.promptTokens(), result.completionTokens(),
                    Duration.ofNanos(permit.waitedNanos() + result.timings().timeToFirstTokenNanos()),
                    Duration.ofNanos(end - arrival));
            return GenerateResponse.of("gen-" + UUID.randomUUID(), result, permit.waitedNanos(), memory.snapshot());
        } catch (ContextOverflowException e) {
            throw ApiException.tooLarge("prompt", e.getMessage(), e);
        } catch (GenerationCancelledException e) {
            throw ApiException.unavailable("the generation was cancelled: " + e.getMessage(), e);
        } catch (EngineException e) {
            if (isOutOfMemory(e)) {
                throw ApiException.insufficientMemory("the device ran out of memory for this request; use a shorter"
                        + " prompt, fewer max_new_tokens or a bounded kv_cache policy", e);
            }
            throw e;
        }
    }

    private static boolean isOutOfMemory(EngineException e) {
        return e.getMessage() != null && e.getMessage().toLowerCase(Locale.ROOT).contains("out of memory");
    }
}
