package dev.kvlab.serving;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kvlab.KvlabApplication;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.serving.HttpFixture.SseEvent;
import dev.kvlab.serving.HttpFixture.SseReader;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Shutting the server down while it streams: a generation that can finish within the graceful period
 * does, one that cannot is cancelled (its cache freed, its thread done before the model is closed),
 * and the process gets there in bounded time.
 */
class GracefulShutdownIntegrationTest {

    private static final Path MODEL_DIR = HttpFixture.tinyModel("tiny-llama");

    @Test
    void inFlightStreamsFinishOrAreCancelled() throws Exception {
        ConfigurableApplicationContext context = new SpringApplicationBuilder(KvlabApplication.class,
                FaultyModel.Hook.class)
                .run("--server.port=0", "--kvlab.device=cpu", "--kvlab.prefill.chunk=8",
                        "--kvlab.model.path=" + MODEL_DIR, "--spring.lifecycle.timeout-per-shutdown-phase=3s",
                        "--spring.main.banner-mode=off");
        int port = ((WebServerApplicationContext) context).getWebServer().getPort();
        ((FaultyModel) context.getBean(TransformerModel.class)).delay(20);

        ExecutorService clients = Executors.newFixedThreadPool(2);
        CountDownLatch generating = new CountDownLatch(2);
        Future<List<SseEvent>> shortOne = clients.submit(() -> stream(port, 40, generating));
        Future<List<SseEvent>> longOne = clients.submit(() -> stream(port, 1000, generating));
        assertThat(generating.await(60, TimeUnit.SECONDS)).isTrue();
        long start = System.nanoTime();
        context.close();
        Duration took = Duration.ofNanos(System.nanoTime() - start);

        List<SseEvent> finished = shortOne.get(30, TimeUnit.SECONDS);
        assertThat(finished.get(finished.size() - 1).event()).isEqualTo("done");
        List<SseEvent> cancelled = longOne.get(30, TimeUnit.SECONDS);
        assertThat(cancelled).isNotEmpty();
        assertThat(cancelled.get(cancelled.size() - 1).event()).isNotEqualTo("done");
        assertThat(cancelled.size()).isLessThan(900);
        assertThat(took).isLessThan(Duration.ofSeconds(20));
        clients.shutdown();
    }

    /** The events of one streamed generation, up to the end of the stream or a dropped connection. */
    private static List<SseEvent> stream(int port, int tokens, CountDownLatch generating) {
        List<SseEvent> events = new ArrayList<>();
        HttpResponse<InputStream> r = HttpFixture.open(HttpFixture.post(port, "/generate",
                "{\"prompt\": \"abc\", \"max_new_tokens\": " + tokens + ", \"stream\": true}").build());
        try (SseReader reader = new SseReader(r.body())) {
            for (SseEvent e = reader.next(); e != null; e = reader.next()) {
                if (events.isEmpty()) {
                    generating.countDown();
                }
                events.add(e);
            }
        } catch (IOException dropped) {
            // the server closed the connection while shutting down
        }
        return events;
    }
}
