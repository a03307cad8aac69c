package dev.kvlab.experiment;

import java.io.IOException;
import java.net.URI;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/**
 * {@code /experiments} (DESIGN §5): create (202 + {@code Location}), list (paged), get, cancel,
 * {@code results.csv}, {@code events} (SSE progress) and {@code report} (HTML with plots).
 */
@RestController
@RequestMapping("/experiments")
class ExperimentController implements DisposableBean {

    /** How often {@code events} re-reads the experiment. */
    private static final long EVENT_PERIOD_MS = 1000;

    private final ExperimentService service;
    private final ScheduledExecutorService events = Executors.newScheduledThreadPool(1, r -> {
        Thread t = new Thread(r, "kvlab-experiment-events");
        t.setDaemon(true);
        return t;
    });

    ExperimentController(ExperimentService service) {
        this.service = service;
    }

    @Override
    public void destroy() {
        events.shutdownNow();
    }

    @PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
    ResponseEntity<Map<String, Object>> create(@RequestBody Map<String, Object> body) {
        String id = service.create(body);
        return ResponseEntity.accepted().location(URI.create("/experiments/" + id)).body(service.get(id).toMap());
    }

    @GetMapping
    Map<String, Object> list(@RequestParam(defaultValue = "0") int page, @RequestParam(defaultValue = "20") int size) {
        return service.list(page, size);
    }

    @GetMapping("/{id}")
    Map<String, Object> get(@PathVariable String id) {
        return service.get(id).toMap();
    }

    @DeleteMapping("/{id}")
    Map<String, Object> cancel(@PathVariable String id) {
        return service.cancel(id).toMap();
    }

    @GetMapping(value = "/{id}/results.csv", produces = "text/csv")
    ResponseEntity<String> csv(@PathVariable String id) {
        ExperimentView view = service.get(id);
        return ResponseEntity.ok()
                .contentType(new MediaType("text", "csv", java.nio.charset.StandardCharsets.UTF_8))
                .header(HttpHeaders.CONTENT_DISPOSITION, "inline; filename=\"experiment-" + id + ".csv\"")
                .body(ResultsCsv.write(view.rows()));
    }

    @GetMapping(value = "/{id}/report", produces = MediaType.TEXT_HTML_VALUE)
    ResponseEntity<String> report(@PathVariable String id) {
        return ResponseEntity.ok()
                .contentType(new MediaType("text", "html", java.nio.charset.StandardCharsets.UTF_8))
                .body(service.report(id));
    }

    /**
     * A {@code progress} event ({@code status}, {@code done}, {@code total}, {@code percent},
     * {@code eta_seconds}) whenever progress changes, then a {@code done} event with the whole
     * experiment once it has finished.
     */
    @GetMapping(value = "/{id}/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    SseEmitter events(@PathVariable String id) {
        service.get(id); // 404 before the stream starts
        SseEmitter emitter = new SseEmitter(0L);
        AtomicReference<ScheduledFuture<?>> task = new AtomicReference<>();
        AtomicReference<String> last = new AtomicReference<>("");
        Runnable stop = () -> {
            ScheduledFuture<?> f = task.get();
            if (f != null) {
                f.cancel(false);
            }
        };
        Runnable poll = () -> {
            try {
                ExperimentView view = service.get(id);
                Map<String, Object> progress = view.progress().toMap();
                progress.put("status", view.status().apiName());
                String key = progress.get("status") + "/" + progress.get("done");
                if (!key.equals(last.getAndSet(key))) {
                    emitter.send(SseEmitter.event().name("progress").data(progress, MediaType.APPLICATION_JSON));
                }
                if (view.status().isFinished()) {
                    emitter.send(SseEmitter.event().name("done").data(view.toMap(), MediaType.APPLICATION_JSON));
                    emitter.complete();
                    stop.run();
                }
            } catch (IOException | RuntimeException e) {
                emitter.completeWithError(e);
                stop.run();
            }
        };
        emitter.onCompletion(stop);
        emitter.onTimeout(stop);
        emitter.onError(e -> stop.run());
        task.set(events.scheduleWithFixedDelay(poll, 0, EVENT_PERIOD_MS, TimeUnit.MILLISECONDS));
        return emitter;
    }
}
