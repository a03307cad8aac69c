package dev.kvlab.serving.admission;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kvlab.cache.policy.CachePolicy;
import dev.kvlab.cache.policy.PolicyException;
import dev.kvlab.cache.policy.PolicyRegistry;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.serving.web.ApiException;
import java.math.BigInteger;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code GET /capacity?policy=…&budget=…}: how long a sequence fits in the memory free now, by the
 * same prediction that admits requests ({@link MemoryGuard}) and that {@code oom-sweep} reports
 * ({@link dev.kvlab.cache.MemoryBudget}). The query holds a {@code kv_cache}
 * object's keys ({@code policy} [full] and its parameters). {@code max_tokens} is a number for caches
 * that grow with the text and {@code "unbounded"} for a fixed-budget policy whose cache fits.
 */
@RestController
public class CapacityController {

    private static final Pattern INTEGER = Pattern.compile("-?\\d+");
    private static final Pattern DECIMAL = Pattern.compile("-?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?");

    private final MemoryGuard guard;
    private final AdmissionControl admission;
    private final TransformerModel model;

    CapacityController(MemoryGuard guard, AdmissionControl admission, TransformerModel model) {
        this.guard = guard;
        this.admission = admission;
        this.model = model;
    }

    /**
     * @param maxTokens prompt + generated tokens that fit, or {@code "unbounded"}
     * @param boundedBytes what a fixed-budget cache allocates whatever the length (null otherwise)
     * @param limitedBy {@code budget} ({@code kvlab.memory.limit}) or {@code device}
     */
    record Capacity(
            @JsonProperty("policy") String policy,
            @JsonProperty("params") Map<String, Object> params,
            @JsonProperty("device") String device,
            @JsonProperty("kv_bytes_per_token") long kvBytesPerToken,
            @JsonProperty("memory_limit_bytes") Long memoryLimitBytes,
            @JsonProperty("weights_bytes") long weightsBytes,
            @JsonProperty("reserved_bytes") long reservedBytes,
            @JsonProperty("available_bytes") long availableBytes,
            @JsonProperty("limited_by") String limitedBy,
            @JsonProperty("max_tokens") Object maxTokens,
            @JsonProperty("bounded_bytes") @JsonInclude(JsonInclude.Include.NON_NULL) Long boundedBytes) {}

    @GetMapping("/capacity")
    Capacity capacity(@RequestParam Map<String, String> query) {
        CachePolicy policy;
        try {
            policy = PolicyRegistry.create(typed(query), model.config().architecture());
            policy.quantization().requireFits(guard.budget().spec().headDim());
        } catch (PolicyException e) {
            throw ApiException.badRequest(e.field(), e.getMessage());
        }
        long reserved = admission.reservedBytes();
        MemoryGuard.Availability free = guard.available(reserved, admission.liveBytes());
        long max = guard.budget().maxTokens(policy, free.availableBytes());
        Long bounded = guard.budget().fixedBytes(policy);
        return new Capacity(policy.name(), policy.params(), guard.deviceName(), guard.kvBytesPerToken(),
                guard.limitBytes(), guard.weightsBytes(), reserved, free.availableBytes(),
                free.limitedBy().name().toLowerCase(Locale.ROOT), max < 0 ? "unbounded" : max, bounded);
    }

    /** Query values as the JSON values a {@code kv_cache} object would hold: numbers where they are numbers. */
    static Map<String, Object> typed(Map<String, String> query) {
        Map<String, Object> typed = new LinkedHashMap<>();
        query.forEach((key, value) -> {
            Object v = value;
            if (INTEGER.matcher(value).matches()) {
                try {
                    v = Long.parseLong(value);
                } catch (NumberFormatException tooBig) {
                    v = new BigInteger(value);
                }
            } else if (DECIMAL.matcher(value).matches()) {
                v = Double.parseDouble(value);
            }
            typed.put(key, v);
        });
        return typed;
    }
}
