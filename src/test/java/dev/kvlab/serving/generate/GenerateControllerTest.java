package dev.kvlab.serving.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.startsWith;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.asyncDispatch;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.header;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.model.Architecture;
import dev.kvlab.serving.openai.JsonReplies;
import dev.kvlab.serving.web.ApiException;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.mockito.ArgumentCaptor;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.Import;
import org.springframework.http.MediaType;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.test.web.servlet.MvcResult;
import org.springframework.test.web.servlet.ResultActions;

/** The HTTP contract of {@code POST /generate} with the engine mocked: defaults, validation, problem responses. */
@WebMvcTest(controllers = GenerateController.class, properties = "kvlab.serving.max-new-tokens=100")
@EnableConfigurationProperties(KvlabProperties.class)
@Import(JsonReplies.class)
class GenerateControllerTest {

    private static final GenerateResponse RESPONSE = new GenerateResponse("gen-1", "text", "length",
            new GenerateResponse.Usage(3, 2), new GenerateResponse.Timings(0.5, 1.0, 2.0, 1.5, 1000.0),
            new GenerateResponse.KvCache("full", Map.of(), 5, 5, 640, 640, 640, 0.0, 0, 0),
            new GenerateResponse.Memory("cpu", 100, 1000), null, null);

    @Autowired
    MockMvc mvc;

    @MockitoBean
    GenerationService generation;

    /** By default a generation answers {@link #RESPONSE} at once. */
    @BeforeEach
    void generationsAnswer() {
        finishWith(sink -> sink.done(RESPONSE));
    }

    private interface Outcome {
        void reportTo(GenerationSink sink) throws Exception;
    }

    private void finishWith(Outcome outcome) {
        doAnswer(call -> {
            outcome.reportTo(call.getArgument(1));
            return mock(GenerationJob.class);
        }).when(generation).stream(any(), any());
    }

    /** Posts to {@code /generate}; a response served asynchronously (non-streaming) is awaited. */
    private ResultActions generate(String body) throws Exception {
        ResultActions sent = mvc.perform(post("/generate").contentType(MediaType.APPLICATION_JSON).content(body));
        MvcResult result = sent.andReturn();
        return result.getRequest().isAsyncStarted() ? mvc.perform(asyncDispatch(result)) : sent;
    }

    static Stream<Arguments> badRequests() {
        String seventeenStops = IntStream.range(0, 17).mapToObj(i -> "\"s" + i + "\"")
                .collect(Collectors.joining(",", "[", "]"));
        return Stream.of(
                Arguments.of("{}", "prompt"),
                Arguments.of("{\"prompt\": null}", "prompt"),
                Arguments.of("{\"prompt\": \"\"}", "prompt"),
                Arguments.of("{\"prompt\": [\"a\"]}", "prompt"),
                Arguments.of("{\"prompt\": {\"text\": \"a\"}}", "prompt"),
                Arguments.of("{\"prompt\": \"hi\", \"max_new_tokens\": -1}", "max_new_tokens"),
                Arguments.of("{\"prompt\": \"hi\", \"max_new_tokens\": 101}", "max_new_tokens"),
                Arguments.of("{\"prompt\": \"hi\", \"max_new_tokens\": \"ten\"}", "max_new_tokens"),
                Arguments.of("{\"prompt\": \"hi\", \"max_new_tokens\": 10.5}", "max_new_tokens"),
                Arguments.of("{\"prompt\": \"hi\", \"max_new_tokens\": 99999999999}", "max_new_tokens"),
                Arguments.of("{\"prompt\": \"hi\", \"max_new_tokens\": true}", "max_new_tokens"),
                Arguments.of("{\"prompt\": \"hi\", \"temperature\": -0.1}", "temperature"),
                Arguments.of("{\"prompt\": \"hi\", \"temperature\": 1e400}", "temperature"),
                Arguments.of("{\"prompt\": \"hi\", \"temperature\": 101}", "temperature"),
                Arguments.of("{\"prompt\": \"hi\", \"temperature\": \"hot\"}", "temperature"),
                Arguments.of("{\"prompt\": \"hi\", \"top_p\": 0}", "top_p"),
                Arguments.of("{\"prompt\": \"hi\", \"top_p\": 1.5}", "top_p"),
                Arguments.of("{\"prompt\": \"hi\", \"top_p\": -1}", "top_p"),
                Arguments.of("{\"prompt\": \"hi\", \"top_k\": -1}", "top_k"),
                Arguments.of("{\"prompt\": \"hi\", \"top_k\": [1]}", "top_k"),
                Arguments.of("{\"prompt\": \"hi\", \"seed\": \"abc\"}", "seed"),
                Arguments.of("{\"prompt\": \"hi\", \"seed\": 1.5}", "seed"),
                Arguments.of("{\"prompt\": \"hi\", \"stop\": [\"\"]}", "stop[0]"),
                Arguments.of("{\"prompt\": \"hi\", \"stop\": \"\"}", "stop[0]"),
                Arguments.of("{\"prompt\": \"hi\", \"stop\": [\"a\", null]}", "stop[1]"),
                Arguments.of("{\"prompt\": \"hi\", \"stop\": " + seventeenStops + "}", "stop"),
                Arguments.of("{\"prompt\": \"hi\", \"stop\": {\"a\": 1}}", "stop"),
                Arguments.of("{\"prompt\": \"hi\", \"stream\": \"yes\"}", "stream"),
                Arguments.of("{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"no-such-policy\"}}", "kv_cache.policy"),
                Arguments.of("{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": 3}}", "kv_cache.policy"),
                Arguments.of("{\"prompt\": \"hi\", \"kv_cache\": {\"policy\": \"full\", \"budget\": 64}}",
                        "kv_cache.budget"),
                Arguments.of("{\"prompt\": \"hi\", \"kv_cache\": {\"budget\": 64}}", "kv_cache.budget"),
                Arguments.of("{\"prompt\": \"hi\", \"kv_cache\": \"full\"}", "kv_cache"),
                Arguments.of("{\"prompt\": \"hi\", \"max_tokens\": 5}", "max_tokens"),
                Arguments.of("{\"prompt\": \"hi\", \"kvcache\": {}}", "kvcache"));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("badRequests")
    void badRequestIsAProblemNamingTheField(String body, String field) throws Exception {
        generate(body)
                .andExpect(status().isBadRequest())
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON))
                .andExpect(jsonPath("$.status").value(400))
                .andExpect(jsonPath("$.field").value(field))
                .andExpect(jsonPath("$.detail").value(startsWith(field + ": ")));
        verify(generation, never()).stream(any(), any());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("unreadableBodies")
    void unreadableBodyIsAProblemSayingWhy(String body, String detail) throws Exception {
        generate(body)
                .andExpect(status().isBadRequest())
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON))
                .andExpect(jsonPath("$.detail").value(containsString(detail)));
        verify(generation, never()).stream(any(), any());
    }

    static Stream<Arguments> unreadableBodies() {
        return Stream.of(
                Arguments.of("{\"prompt\": \"hi\"", "not valid JSON"),
                Arguments.of("{prompt: hi}", "not valid JSON"),
                Arguments.of("{\"prompt\": \"hi\"} trailing", "not valid JSON"),
                Arguments.of("", "missing"),
                Arguments.of("[\"hi\"]", "must be a JSON object"),
                Arguments.of("\"hi\"", "must be a JSON object"));
    }

    @Test
    void absentFieldsTakeTheDocumentedDefaults() throws Exception {
        generate("{\"prompt\": \"hi\"}")
                .andExpect(status().isOk());
        ArgumentCaptor<GenerationRequest> sent = ArgumentCaptor.forClass(GenerationRequest.class);
        verify(generation).stream(sent.capture(), any());
        GenerationRequest r = sent.getValue();
        assertThat(r.prompt()).isEqualTo("hi");
        assertThat(r.maxNewTokens()).isEqualTo(64);
        assertThat(r.sampling().temperature()).isZero();
        assertThat(r.sampling().topK()).isZero();
        assertThat(r.sampling().topP()).isEqualTo(1.0);
        assertThat(r.stop()).isEmpty();
        assertThat(r.policy().name()).isEqualTo("full");
    }

    @Test
    void everyFieldReachesTheEngine() throws Exception {
        String body = """
                {"prompt": "once", "max_new_tokens": 100, "temperature": 0.7, "top_k": 40, "top_p": 0.9,
                 "seed": 42, "stop": "\\n\\n", "stream": false, "kv_cache": {"policy": "full"}}""";
        generate(body)
                .andExpect(status().isOk());
        ArgumentCaptor<GenerationRequest> sent = ArgumentCaptor.forClass(GenerationRequest.class);
        verify(generation).stream(sent.capture(), any());
        GenerationRequest r = sent.getValue();
        assertThat(r.maxNewTokens()).isEqualTo(100);
        assertThat(r.sampling().temperature()).isEqualTo(0.7);
        assertThat(r.sampling().topK()).isEqualTo(40);
        assertThat(r.sampling().topP()).isEqualTo(0.9);
        assertThat(r.sampling().seed()).isEqualTo(42L);
        assertThat(r.stop()).containsExactly("\n\n");
    }

    @Test
    void cacheOptionsAreCheckedAgainstTheLoadedArchitecture() throws Exception {
        when(generation.architecture()).thenReturn(Architecture.GPT2);
        String body = """
                {"prompt": "hi", "kv_cache": {"policy": "streaming", "budget": 64, "rope": "cache-index"}}""";
        generate(body)
                .andExpect(status().isBadRequest())
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON))
                .andExpect(jsonPath("$.field").value("kv_cache.rope"));
        verify(generation, never()).stream(any(), any());
    }

    @Test
    void responseUsesTheSnakeCaseContract() throws Exception {
        generate("{\"prompt\": \"hi\"}")
                .andExpect(status().isOk())
                .andExpect(content().contentType(MediaType.APPLICATION_JSON))
                .andExpect(jsonPath("$.finish_reason").value("length"))
                .andExpect(jsonPath("$.usage.prompt_tokens").value(3))
                .andExpect(jsonPath("$.usage.completion_tokens").value(2))
                .andExpect(jsonPath("$.timings.queue_ms").value(0.5))
                .andExpect(jsonPath("$.timings.ttft_ms").value(1.5))
                .andExpect(jsonPath("$.timings.tokens_per_second").value(1000.0))
                .andExpect(jsonPath("$.kv_cache.seen_tokens").value(5))
                .andExpect(jsonPath("$.kv_cache.full_cache_bytes").value(640))
                .andExpect(jsonPath("$.kv_cache.compression_ratio").value(0.0))
                .andExpect(jsonPath("$.memory.used_bytes").value(100))
                .andExpect(jsonPath("$.memory.total_bytes").value(1000));
    }

    @Test
    void fullQueueIs429WithRetryAfter() throws Exception {
        doThrow(ApiException.queueFull("busy", Duration.ofSeconds(1))).when(generation).stream(any(), any());
        generate("{\"prompt\": \"hi\"}")
                .andExpect(status().isTooManyRequests())
                .andExpect(header().string("Retry-After", "1"))
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON));
    }

    @Test
    void unexpectedFailureIsA500ProblemWithoutInternals() throws Exception {
        doThrow(new IllegalStateException("secret internal state")).when(generation).stream(any(), any());
        generate("{\"prompt\": \"hi\"}")
                .andExpect(status().isInternalServerError())
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON))
                .andExpect(jsonPath("$.detail").value(containsString("internal error")));
    }

    @Test
    void failureDuringGenerationIsAProblemWithItsOwnStatus() throws Exception {
        finishWith(sink -> sink.failed(ApiException.insufficientMemory("the device ran out of memory", null)));
        generate("{\"prompt\": \"hi\"}")
                .andExpect(status().isInsufficientStorage())
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON))
                .andExpect(jsonPath("$.status").value(507))
                .andExpect(jsonPath("$.detail").value(containsString("out of memory")));
    }

    @Test
    void unknownPathIs404Problem() throws Exception {
        mvc.perform(get("/nope"))
                .andExpect(status().isNotFound())
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON))
                .andExpect(jsonPath("$.detail").value(containsString("/nope")));
    }

    @Test
    void wrongMethodIs405Problem() throws Exception {
        mvc.perform(get("/generate"))
                .andExpect(status().isMethodNotAllowed())
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON));
    }

    @Test
    void wrongContentTypeIs415Problem() throws Exception {
        mvc.perform(post("/generate").contentType(MediaType.TEXT_PLAIN).content("hi"))
                .andExpect(status().isUnsupportedMediaType())
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON));
        mvc.perform(post("/generate").contentType(MediaType.APPLICATION_FORM_URLENCODED).content("prompt=hi"))
                .andExpect(status().isUnsupportedMediaType())
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON));
    }
}
