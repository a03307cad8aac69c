package dev.kvlab.serving.openai;

import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.GenerationRequest;
import dev.kvlab.serving.generate.ConnectionProbe;
import dev.kvlab.serving.generate.EventStreams;
import dev.kvlab.serving.generate.GenerateResponse;
import dev.kvlab.serving.generate.GenerationFailures;
import dev.kvlab.serving.generate.GenerationJob;
import dev.kvlab.serving.generate.GenerationService;
import dev.kvlab.serving.generate.GenerationSink;
import dev.kvlab.serving.web.ApiException;
import jakarta.annotation.PreDestroy;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
public class JsonReplies {

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
    public <T> DeferredResult<T> generate(HttpServletRequest http, GenerationRequest request,
            Function<GenerateResponse, T> answer) {
        return generateAll(http, List.of(new Part(request, null)), responses -> answer.apply(responses.get(0)));
    }

    /** One generation of a reply that holds several: the request, and its prompt's token ids or null. */
    record Part(GenerationRequest request, int[] promptIds) {}

    /**
     * Starts every part (they run side by side in the scheduler's batch) and answers {@code answer} of
     * their responses in order once all are done. The first problem answers the request and cancels
     * the other parts; so does a client that hangs up.
     *
     * @throws ApiException the problems found before a part starts, as {@link GenerationService#stream};
     *     the parts already started are cancelled
     */
    <T> DeferredResult<T> generateAll(HttpServletRequest http, List<Part> parts,
            Function<List<GenerateResponse>, T> answer) {
        Reply<T> reply = new Reply<>(parts.size(), answer);
        List<GenerationJob> jobs = new ArrayList<>();
        try {
            for (int i = 0; i < parts.size(); i++) {
                Part part = parts.get(i);
                jobs.add(part.promptIds() == null ? generation.stream(part.request(), reply.part(i))
                        : generation.stream(part.request(), part.promptIds(), reply.part(i)));
            }
        } catch (RuntimeException e) {
            jobs.forEach(job -> job.cancel(GenerationFailures.Cancel.CLIENT_GONE));
            throw e;
        }
        reply.watch(jobs, new ConnectionProbe(http));
        return reply.result;
    }

    @PreDestroy
    void shutdown() {
        prober.shutdownNow();
    }

    /** One pending reply: the sinks of its generations, and the watch on its client until it is answered. */
    private final class Reply<T> {
        final DeferredResult<T> result = new DeferredResult<>(timeout.toMillis());
        private final Function<List<GenerateResponse>, T> answer;
        private final GenerateResponse[] responses;
        private int remaining; // guarded by this
        private List<GenerationJob> jobs = List.of(); // guarded by this
        private boolean answered; // guarded by this
        private ScheduledFuture<?> probing; // guarded by this

        Reply(int parts, Function<List<GenerateResponse>, T> answer) {
            this.answer = answer;
            this.responses = new GenerateResponse[parts];
            this.remaining = parts;
        }

        GenerationSink part(int index) {
            return new GenerationSink() {
                @Override
                public void token(int tokenId, String text) {}

                @Override
                public void done(GenerateResponse response) {
                    partDone(index, response);
                }

                @Override
                public void failed(ApiException problem) {
                    fail(problem);
                }
            };
        }

        void watch(List<GenerationJob> started, ConnectionProbe probe) {
            result.onTimeout(() -> stopThen(GenerationFailures.Cancel.TIMEOUT));
            result.onError(e -> stopThen(GenerationFailures.Cancel.CLIENT_GONE));
            result.onCompletion(() -> stopThen(GenerationFailures.Cancel.CLIENT_GONE));
            synchronized (this) {
                jobs = List.copyOf(started);
                if (answered) { // a part failed before the others were known: they have no one to answer
                    jobs.forEach(job -> job.cancel(GenerationFailures.Cancel.CLIENT_GONE));
                } else {
                    long period = PROBE_PERIOD.toMillis();
                    probing = prober.scheduleWithFixedDelay(() -> probe(probe), period, period,
                            TimeUnit.MILLISECONDS);
                }
            }
        }

        /** Runs on the probe thread; holding the lock keeps the probe off the connection once the reply is sent. */
        private synchronized void probe(ConnectionProbe probe) {
            if (answered) {
                return;
            }
            try {
                if (probe.clientGone()) {
                    stop();
                    jobs.forEach(job -> job.cancel(GenerationFailures.Cancel.CLIENT_GONE));
                }
            } catch (IOException | RuntimeException e) {
                log.debug("Cannot watch the client of generations {} any more: {}",
                        jobs.stream().map(GenerationJob::id).toList(), e.toString());
                stop();
            }
        }

        private void partDone(int index, GenerateResponse response) {
            synchronized (this) {
                responses[index] = response;
                if (--remaining > 0 || result.isSetOrExpired()) {
                    return;
                }
            }
            stop();
            T body;
            try {
                body = answer.apply(Arrays.asList(responses));
            } catch (RuntimeException e) {
                result.setErrorResult(e);
                return;
            }
            result.setResult(body);
        }

        /**
         * The first problem ends the reply, even after the probe found the client gone: the async
         * request must complete for the server to let go of it.
         */
        private void fail(ApiException problem) {
            List<GenerationJob> others;
            synchronized (this) {
                if (result.isSetOrExpired()) {
                    return;
                }
                others = jobs;
            }
            stop();
            others.forEach(job -> job.cancel(GenerationFailures.Cancel.CLIENT_GONE)); // no-ops once finished
            result.setErrorResult(problem);
        }

        /** The async cycle ends (timeout, error, completion): the generations have no one to answer any more. */
        private void stopThen(GenerationFailures.Cancel reason) {
            List<GenerationJob> all;
            synchronized (this) {
                all = jobs;
            }
            stop();
            all.forEach(job -> job.cancel(reason)); // no-ops once finished
        }

        private synchronized void stop() {
            answered = true;
            if (probing != null) {
                probing.cancel(false);
            }
        }
    }
}
