package dev.kvlab.serving;

import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationRequest;
import jakarta.annotation.PreDestroy;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;
import org.springframework.web.context.request.async.DeferredResult;

/**
 * Answers non-streaming generations with one JSON object each, asynchronously, so that a client that
 * hangs up cancels its generation (cache freed, slot or queue place released) as a streaming one does.
 * Tomcat notices a closed connection only when it reads or writes it, and it does not poll the socket
 * of an async request for reads (Tomcat 11 {@code AbstractProtocol.ConnectionHandler.longPoll}), so
 * while a reply is pending its connection is probed every {@link #PROBE_PERIOD} by a
 * {@link ConnectionProbe}, which only reads: problems are still problem+json with their own status.
 */
@Component
class JsonReplies {

    static final Duration PROBE_PERIOD = Duration.ofMillis(200);

    private static final Logger log = LoggerFactory.getLogger(JsonReplies.class);

    private final GenerationService generation;
    private final Duration timeout;
    private final ScheduledExecutorService prober = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kvlab-client-probe");
        t.setDaemon(true);
        return t;
    });

    JsonReplies(GenerationService generation, KvlabProperties properties) {
        this.generation = generation;
        this.timeout = properties.serving().requestTimeout().plus(EventStreams.MARGIN);
    }

    /**
     * Starts the generation and answers {@code answer} of its response, or its problem.
     *
     * @throws ApiException the problems found before it starts, as {@link GenerationService#stream}
     */
    <T> DeferredResult<T> generate(HttpServletRequest http, GenerationRequest request,
            Function<GenerateResponse, T> answer) {
        Reply<T> reply = new Reply<>(answer);
        reply.watch(generation.stream(request, reply), new ConnectionProbe(http));
        return reply.result;
    }

    @PreDestroy
    void shutdown() {
        prober.shutdownNow();
    }

    /** One pending reply: the sink of its generation, and the watch on its client until it is answered. */
    private final class Reply<T> implements GenerationSink {
        final DeferredResult<T> result = new DeferredResult<>(timeout.toMillis());
        private final Function<GenerateResponse, T> answer;
        private boolean answered; // guarded by this
        private ScheduledFuture<?> probing; // guarded by this

        Reply(Function<GenerateResponse, T> answer) {
            this.answer = answer;
        }

        void watch(GenerationJob job, ConnectionProbe probe) {
            result.onTimeout(() -> stopThen(job, GenerationFailures.Cancel.TIMEOUT));
            result.onError(e -> stopThen(job, GenerationFailures.Cancel.CLIENT_GONE));
            result.onCompletion(() -> stopThen(job, GenerationFailures.Cancel.CLIENT_GONE));
            synchronized (this) {
                if (!answered) {
                    long period = PROBE_PERIOD.toMillis();
                    probing = prober.scheduleWithFixedDelay(() -> probe(job, probe), period, period,
                            TimeUnit.MILLISECONDS);
                }
            }
        }

        /** Runs on the probe thread; holding the lock keeps the probe off the connection once the reply is sent. */
        private synchronized void probe(GenerationJob job, ConnectionProbe probe) {
            if (answered) {
                return;
            }
            try {
                if (probe.clientGone()) {
                    stop();
                    job.cancel(GenerationFailures.Cancel.CLIENT_GONE);
                }
            } catch (IOException | RuntimeException e) {
                log.debug("Cannot watch the client of generation {} any more: {}", job.id(), e.toString());
                stop();
            }
        }

        @Override
        public void token(int tokenId, String text) {}

        @Override
        public void done(GenerateResponse response) {
            stop();
            T body;
            try {
                body = answer.apply(response);
            } catch (RuntimeException e) {
                result.setErrorResult(e);
                return;
            }
            result.setResult(body);
        }

        @Override
        public void failed(ApiException problem) {
            stop();
            result.setErrorResult(problem);
        }

        /** The async cycle ends (timeout, error, completion): the generation has no one to answer any more. */
        private void stopThen(GenerationJob job, GenerationFailures.Cancel reason) {
            stop();
            job.cancel(reason); // a no-op once it has finished
        }

        private synchronized void stop() {
            answered = true;
            if (probing != null) {
                probing.cancel(false);
            }
        }
    }
}
