package dev.kvlab.serving.admission;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kvlab.generation.StepScheduler;
import dev.kvlab.metrics.DeviceMemoryProbe;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code GET /status}: what the server is doing now, as one small JSON object for a live panel
 * polled every second or two (the Prometheus text is for Prometheus): requests running in the batch
 * and waiting, the bytes their KV caches hold and have reserved, and the device's memory.
 */
@RestController
public class StatusController {

    private final AdmissionControl admission;
    private final MemoryGuard guard;
    private final DeviceMemoryProbe memory;
    private final StepScheduler scheduler;

    StatusController(AdmissionControl admission, MemoryGuard guard, DeviceMemoryProbe memory, StepScheduler scheduler) {
        this.admission = admission;
        this.guard = guard;
        this.memory = memory;
        this.scheduler = scheduler;
    }

    /** @param maxConcurrent the batch's size: most sequences in one scheduler step */
    record Requests(
            @JsonProperty("running") int running,
            @JsonProperty("waiting") int waiting,
            @JsonProperty("max_concurrent") int maxConcurrent,
            @JsonProperty("max_batch_tokens") int maxBatchTokens) {}

    /**
     * @param liveBytes what the running requests' caches allocate now
     * @param reservedBytes what admission set aside for them (their predicted peaks)
     */
    record KvCache(
            @JsonProperty("live_bytes") long liveBytes,
            @JsonProperty("reserved_bytes") long reservedBytes,
            @JsonProperty("bytes_per_token") long bytesPerToken) {}

    /** @param limitBytes {@code kvlab.memory.limit}, null when unset */
    record Memory(
            @JsonProperty("device") String device,
            @JsonProperty("used_bytes") long usedBytes,
            @JsonProperty("total_bytes") long totalBytes,
            @JsonProperty("weights_bytes") long weightsBytes,
            @JsonProperty("limit_bytes") Long limitBytes) {}

    record Status(
            @JsonProperty("requests") Requests requests,
            @JsonProperty("kv_cache") KvCache kvCache,
            @JsonProperty("memory") Memory memory) {}

    @GetMapping("/status")
    Status status() {
        DeviceMemoryProbe.Snapshot m = memory.snapshot();
        return new Status(
                new Requests(admission.running(), admission.waiting(), admission.maxConcurrent(),
                        scheduler.maxBatchTokens()),
                new KvCache(admission.liveBytes(), admission.reservedBytes(), guard.kvBytesPerToken()),
                new Memory(m.device(), m.usedBytes(), m.totalBytes(), guard.weightsBytes(), guard.limitBytes()));
    }
}
