package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kvlab.testing.TinyModels;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import tools.jackson.databind.JsonNode;

/** {@code /generate}, {@code /model} and the actuator over a real port. */
class ServerIntegrationTest extends ServingIntegrationTest {

    private JsonNode generate(Map<String, ?> body) {
        return client.post().uri("/generate").contentType(MediaType.APPLICATION_JSON).body(body)
                .exchange()
                .expectStatus().isOk()
                .expectHeader().contentType(MediaType.APPLICATION_JSON)
                .expectBody(JsonNode.class).returnResult().getResponseBody();
    }

    @Test
    void generateReportsTokensCacheBytesAndTimings() {
        String prompt = "The quick brown fox";
        JsonNode r = generate(Map.of("prompt", prompt, "max_new_tokens", 5));

        assertThat(r.path("id").asString()).startsWith("gen-");
        assertThat(r.path("finish_reason").asString()).isIn("length", "eos");
        int promptTokens = r.path("usage").path("prompt_tokens").asInt();
        int completion = r.path("usage").path("completion_tokens").asInt();
        assertThat(promptTokens).isEqualTo(generator.tokenizer().encode(prompt).length + 1); // + bos
        assertThat(completion).isBetween(0, 5);
        if (r.path("finish_reason").asString().equals("length")) {
            assertThat(completion).isEqualTo(5);
        }

        JsonNode kv = r.path("kv_cache");
        long bytesPerToken = model.kvSpec().bytesPerToken();
        long seen = kv.path("seen_tokens").asLong();
        assertThat(kv.path("policy").asString()).isEqualTo("full");
        assertThat(seen).isBetween((long) promptTokens, (long) promptTokens + completion);
        assertThat(kv.path("stored_tokens").asLong()).isEqualTo(seen);
        assertThat(kv.path("bytes").asLong()).isEqualTo(seen * bytesPerToken);
        assertThat(kv.path("full_cache_bytes").asLong()).isEqualTo(seen * bytesPerToken);
        assertThat(kv.path("peak_bytes").asLong()).isEqualTo(seen * bytesPerToken);
        assertThat(kv.path("compression_ratio").asDouble()).isZero();
        assertThat(kv.path("evicted").asLong()).isZero();

        JsonNode t = r.path("timings");
        assertThat(t.path("prefill_ms").asDouble()).isPositive();
        assertThat(t.path("ttft_ms").asDouble()).isGreaterThanOrEqualTo(t.path("prefill_ms").asDouble());
        assertThat(t.path("queue_ms").asDouble()).isGreaterThanOrEqualTo(0);

        JsonNode memory = r.path("memory");
        assertThat(memory.path("device").asString()).isEqualTo("cpu");
        assertThat(memory.path("used_bytes").asLong()).isPositive();
        assertThat(memory.path("total_bytes").asLong()).isGreaterThan(memory.path("used_bytes").asLong());
    }

    @Test
    void sameSeedGivesSameTextWhenSampling() {
        Map<String, Object> body = Map.of("prompt", "Once upon a time", "max_new_tokens", 12, "temperature", 0.8,
                "seed", 1234);
        JsonNode first = generate(body);
        JsonNode second = generate(body);
        assertThat(second.path("text").asString()).isEqualTo(first.path("text").asString());
        assertThat(second.path("usage")).isEqualTo(first.path("usage"));
    }

    @Test
    void promptOverTheConfiguredLimitIs413NamingPrompt() {
        client.post().uri("/generate").contentType(MediaType.APPLICATION_JSON)
                .body(Map.of("prompt", "word ".repeat(200)))
                .exchange()
                .expectStatus().isEqualTo(HttpStatus.CONTENT_TOO_LARGE)
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.field").isEqualTo("prompt");
    }

    @Test
    void modelDescribesWhatIsLoaded() {
        client.get().uri("/model").exchange()
                .expectStatus().isOk()
                .expectBody()
                .jsonPath("$.model").isEqualTo("tiny-llama")
                .jsonPath("$.architecture").isEqualTo("LlamaForCausalLM")
                .jsonPath("$.parameters").isEqualTo(model.parameterCount())
                .jsonPath("$.dtype").isEqualTo("float32")
                .jsonPath("$.device").isEqualTo("cpu")
                .jsonPath("$.layers").isEqualTo(2)
                .jsonPath("$.heads").isEqualTo(4)
                .jsonPath("$.kv_heads").isEqualTo(2)
                .jsonPath("$.head_dim").isEqualTo(16)
                .jsonPath("$.vocab_size").isEqualTo(TinyModels.VOCAB_SIZE)
                .jsonPath("$.max_positions").isEqualTo(256)
                .jsonPath("$.kv_bytes_per_token").isEqualTo(model.kvSpec().bytesPerToken());
    }

    @Test
    void prometheusExportsTheGenerationMeters() {
        generate(Map.of("prompt", "metrics", "max_new_tokens", 2));
        String scrape = client.get().uri("/actuator/prometheus").exchange()
                .expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(scrape)
                .contains("kvlab_generated_tokens_total{policy=\"full\"}")
                .contains("kvlab_prompt_tokens_total{policy=\"full\"}")
                .contains("kvlab_requests_running ")
                .contains("kvlab_requests_waiting ")
                .contains("kvlab_device_memory_used_bytes{device=\"cpu\"}")
                .contains("kvlab_device_memory_total_bytes{device=\"cpu\"}")
                .contains("kvlab_time_to_first_token_seconds_bucket")
                .contains("kvlab_request_duration_seconds_count");
    }

    @Test
    void onlyHealthInfoAndPrometheusAreExposed() {
        client.get().uri("/actuator/health").exchange().expectStatus().isOk();
        for (String hidden : new String[] {"/actuator/env", "/actuator/beans", "/actuator/heapdump"}) {
            client.get().uri(hidden).exchange()
                    .expectStatus().isNotFound()
                    .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
        }
    }

    @Test
    void badRequestOverHttpIsAProblemNamingTheField() {
        client.post().uri("/generate").contentType(MediaType.APPLICATION_JSON)
                .body("{\"prompt\": \"hi\", \"max_new_tokens\": \"ten\"}")
                .exchange()
                .expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.field").isEqualTo("max_new_tokens");
    }
}
