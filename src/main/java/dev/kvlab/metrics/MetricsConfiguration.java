package dev.kvlab.metrics;

import dev.kvlab.config.KvlabProperties;
import dev.kvlab.model.TransformerModel;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.util.unit.DataSize;

/**
 * Wires the meters to the loaded model: the device-memory gauges
 * ({@code kvlab_device_memory_used_bytes{device}}, {@code kvlab_device_memory_total_bytes{device}})
 * read the probe at each scrape; {@code kvlab_memory_budget_bytes} is {@code kvlab.memory.limit}, or
 * the device's total memory when no limit is set.
 */
@Configuration(proxyBeanMethods = false)
public class MetricsConfiguration {

    @Bean
    DeviceMemoryProbe deviceMemoryProbe(TransformerModel model, MeterRegistry registry) {
        DeviceMemoryProbe probe = new DeviceMemoryProbe(model.device());
        Gauge.builder("kvlab.device.memory.used", probe, p -> p.snapshot().usedBytes())
                .description("Memory in use on the model's device (process RSS on CPU)")
                .baseUnit("bytes")
                .tag("device", probe.deviceName())
                .register(registry);
        Gauge.builder("kvlab.device.memory.total", probe, p -> p.snapshot().totalBytes())
                .description("Memory of the model's device (physical memory on CPU)")
                .baseUnit("bytes")
                .tag("device", probe.deviceName())
                .register(registry);
        return probe;
    }

    @Bean
    Gauge memoryBudgetGauge(DeviceMemoryProbe probe, KvlabProperties properties, MeterRegistry registry) {
        DataSize limit = properties.memory().limit();
        return Gauge.builder("kvlab.memory.budget.bytes", probe,
                        p -> limit != null ? limit.toBytes() : p.snapshot().totalBytes())
                .description("The memory budget: kvlab.memory.limit, or the device's total memory when unset")
                .register(registry);
    }

    @Bean
    ExperimentMetrics experimentMetrics(MeterRegistry registry) {
        return new ExperimentMetrics(registry);
    }

    @Bean
    GenerationMetrics generationMetrics(MeterRegistry registry) {
        return new GenerationMetrics(registry);
    }
}
