package dev.kvlab.experiment;

import com.github.kagkarlsson.scheduler.Scheduler;
import com.github.kagkarlsson.scheduler.SchedulerClient;
import com.github.kagkarlsson.scheduler.SchedulerName;
import com.github.kagkarlsson.scheduler.task.FailureHandler;
import com.github.kagkarlsson.scheduler.task.helper.OneTimeTask;
import com.github.kagkarlsson.scheduler.task.helper.Tasks;
import dev.kvlab.config.ExperimentProperties;
import dev.kvlab.config.KvlabProperties;
import dev.kvlab.generation.Generator;
import dev.kvlab.metrics.DeviceMemoryProbe;
import dev.kvlab.metrics.ExperimentMetrics;
import dev.kvlab.metrics.GenerationMetrics;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import tools.jackson.databind.ObjectMapper;

/**
 * Wires experiments by hand onto db-scheduler (its Boot 4 starter is not on Maven Central): one
 * one-time task whose instances are cell ids, a {@link SchedulerClient} to queue them, and, unless
 * {@code kvlab.experiments.execute=false}, a {@link Scheduler} with {@code kvlab.experiments.threads}
 * threads that runs them. db-scheduler makes this cluster-safe: an execution is picked by one
 * instance (optimistic lock on its row), kept alive by heartbeats, and run again elsewhere when its
 * instance dies (dead-execution detection after six missed heartbeats, {@code kill -9} included).
 */
@Configuration(proxyBeanMethods = false)
class ExperimentConfiguration {

    static final String CELL_TASK = "kvlab-experiment-cell";

    /** This server among the replicas: host, process and a random suffix (several contexts may share a JVM). */
    @Bean
    ExperimentInstance experimentInstance() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = "unknown-host";
        }
        String name = host + "-" + ProcessHandle.current().pid() + "-" + UUID.randomUUID().toString().substring(0, 8);
        return new ExperimentInstance(name.length() > 50 ? name.substring(name.length() - 50) : name);
    }

    /** @param name recorded as a cell's {@code ran_by} and as db-scheduler's {@code picked_by} (≤ 50 characters) */
    record ExperimentInstance(String name) {}

    @Bean
    Json experimentJson(ObjectMapper mapper) {
        return new Json(mapper);
    }

    @Bean
    ExperimentKinds experimentKinds(Generator generator, DeviceMemoryProbe probe, GenerationMetrics metrics,
            KvlabProperties kvlab, ExperimentProperties properties) {
        Long limit = kvlab.memory().limit() == null ? null : kvlab.memory().limit().toBytes();
        return ExperimentKinds.of(new ExperimentEngine(generator, probe, metrics, limit,
                properties.activationProbe()), properties.maxLength());
    }

    @Bean
    ExperimentCounts experimentCounts(ExperimentRepository repository, ExperimentMetrics metrics) {
        return new ExperimentCounts(repository, metrics);
    }

    @Bean
    RunningCells experimentRunningCells(ExperimentRepository repository) {
        return new RunningCells(repository);
    }

    @Bean
    OneTimeTask<Void> experimentCellTask(ExperimentRepository repository, ExperimentKinds kinds, Json json,
            ExperimentCounts counts, ExperimentInstance instance, RunningCells runningCells) {
        CellRunner runner = new CellRunner(repository, kinds, json, counts::publish, instance.name(), runningCells);
        // a cell only throws when interrupted by shutdown: run it again soon, here or on another instance
        return Tasks.oneTime(CELL_TASK)
                .onFailure(new FailureHandler.OnFailureRetryLater<>(Duration.ofSeconds(2)))
                .execute((execution, context) -> runner.run(execution.getId()));
    }

    @Bean
    SchedulerClient experimentSchedulerClient(DataSource dataSource, OneTimeTask<Void> experimentCellTask) {
        return SchedulerClient.Builder.create(dataSource, experimentCellTask).build();
    }

    @Bean
    ExperimentService experimentService(ExperimentRepository repository, ExperimentKinds kinds, Json json,
            SchedulerClient experimentSchedulerClient, OneTimeTask<Void> experimentCellTask,
            ExperimentProperties properties, ExperimentCounts counts, RunningCells runningCells) {
        return new ExperimentService(repository, kinds, json, experimentSchedulerClient, experimentCellTask,
                properties, counts, runningCells);
    }

    @Bean
    CellScheduler experimentScheduler(DataSource dataSource, OneTimeTask<Void> experimentCellTask,
            ExperimentService service, ExperimentCounts counts, ExperimentProperties properties,
            ExperimentInstance instance, RunningCells runningCells) {
        return new CellScheduler(dataSource, experimentCellTask, service, counts, properties, instance.name(),
                runningCells);
    }

    /**
     * Starts the cell scheduler once the context is up (the schema is migrated by then) and stops it
     * first on shutdown; a cell still running after a few seconds is interrupted and left to be run again.
     */
    static final class CellScheduler implements SmartLifecycle {
        private final DataSource dataSource;
        private final OneTimeTask<Void> task;
        private final ExperimentService service;
        private final ExperimentCounts counts;
        private final ExperimentProperties properties;
        private final String instance;
        private final RunningCells runningCells;
        private Scheduler scheduler;
        private ScheduledExecutorService gauges;

        CellScheduler(DataSource dataSource, OneTimeTask<Void> task, ExperimentService service,
                ExperimentCounts counts, ExperimentProperties properties, String instance, RunningCells runningCells) {
            this.dataSource = dataSource;
            this.runningCells = runningCells;
            this.instance = instance;
            this.task = task;
            this.service = service;
            this.counts = counts;
            this.properties = properties;
        }

        @Override
        public synchronized void start() {
            service.requeueUnfinished();
            gauges = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "kvlab-experiment-gauges");
                t.setDaemon(true);
                return t;
            });
            // other replicas change the counts too
            gauges.scheduleWithFixedDelay(() -> {
                try {
                    counts.publish();
                } catch (RuntimeException e) {
                    // the database may be briefly unreachable; the next round retries
                }
            }, 10, 10, TimeUnit.SECONDS);
            if (properties.execute()) {
                scheduler = Scheduler.create(dataSource, task)
                        .schedulerName(new SchedulerName.Fixed(instance))
                        .threads(properties.threads())
                        .pollingInterval(properties.pollInterval())
                        .heartbeatInterval(properties.heartbeat())
                        .shutdownMaxWait(Duration.ofSeconds(5))
                        .enableImmediateExecution()
                        .build();
                scheduler.start();
                runningCells.start();
            }
        }

        @Override
        public synchronized void stop() {
            runningCells.stop();
            if (scheduler != null) {
                scheduler.stop();
                scheduler = null;
            }
            if (gauges != null) {
                gauges.shutdownNow();
                gauges = null;
            }
        }

        @Override
        public synchronized boolean isRunning() {
            return gauges != null;
        }
    }
}
