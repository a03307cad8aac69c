package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import ai.djl.Device;
import ai.djl.engine.EngineException;
import dev.kvlab.cache.policy.FullPolicy;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.generation.Generator;
import dev.kvlab.generation.SamplingParams;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.metrics.GenerationMetrics;
import dev.kvlab.model.ContextOverflowException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;

/** Engine failures a client caused map to problem statuses, never to a 500. */
class GenerationServiceTest {

    private final Generator generator = mock(Generator.class);
    private final AdmissionControl admission = new AdmissionControl(1, 0);
    private final GenerationService service = new GenerationService(generator, admission,
            new GenerationMetrics(new SimpleMeterRegistry()), new DeviceMemoryProbe(Device.cpu()), properties(10));

    private static KvlabProperties properties(int maxPromptTokens) {
        return new KvlabProperties(new KvlabProperties.Model("m", null), "cpu", new KvlabProperties.Prefill(512),
                new KvlabProperties.Memory(null), new KvlabProperties.Serving(1024, maxPromptTokens, 1, 0),
                new KvlabProperties.Security(null));
    }

    private static GenerationRequest request() {
        return new GenerationRequest("hello", 4, SamplingParams.greedy(), List.of(), new FullPolicy());
    }

    private static void assertProblem(Runnable call, HttpStatusCode status, String field) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(ApiException.class, e -> {
            assertThat(e.getStatusCode()).isEqualTo(status);
            assertThat(e.getBody().getProperties() == null ? null : e.getBody().getProperties().get("field"))
                    .isEqualTo(field);
        });
    }

    @Test
    void promptOverTheLimitIs413BeforeQueueing() {
        when(generator.promptTokens("hello")).thenReturn(new int[11]);
        assertProblem(() -> service.generate(request()), HttpStatus.CONTENT_TOO_LARGE, "prompt");
        verify(generator, never()).generate(any(), any());
    }

    @Test
    void promptWithNoTokensIs400() {
        when(generator.promptTokens("hello")).thenReturn(new int[0]);
        assertProblem(() -> service.generate(request()), HttpStatus.BAD_REQUEST, "prompt");
    }

    @Test
    void contextOverflowIs413AndFreesTheSlot() {
        when(generator.promptTokens("hello")).thenReturn(new int[3]);
        when(generator.generate(any(), any())).thenThrow(new ContextOverflowException("past n_positions 128", 128));
        assertProblem(() -> service.generate(request()), HttpStatus.CONTENT_TOO_LARGE, "prompt");
        assertThat(admission.running()).isZero();
    }

    @Test
    void deviceOutOfMemoryIs507() {
        when(generator.promptTokens("hello")).thenReturn(new int[3]);
        when(generator.generate(any(), any())).thenThrow(new EngineException("CUDA out of memory. Tried to allocate"));
        assertProblem(() -> service.generate(request()), HttpStatus.INSUFFICIENT_STORAGE, null);
        assertThat(admission.running()).isZero();
    }
}
