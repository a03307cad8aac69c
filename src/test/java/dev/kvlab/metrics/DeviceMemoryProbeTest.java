package dev.kvlab.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import java.util.List;
import org.junit.jupiter.api.Test;

class DeviceMemoryProbeTest {

    @Test
    void parsesResidentSetFromProcStatus() {
        List<String> status = List.of("Name:\tjava", "VmPeak:\t 9000 kB", "VmRSS:\t  123456 kB", "RssAnon:\t 100 kB");
        assertThat(DeviceMemoryProbe.parseVmRss(status)).isEqualTo(123456L * 1024);
    }

    @Test
    void cpuSnapshotIsTheProcessAgainstPhysicalMemory() {
        DeviceMemoryProbe.Snapshot s = new DeviceMemoryProbe(Device.cpu()).snapshot();
        assertThat(s.device()).isEqualTo("cpu");
        assertThat(s.usedBytes()).isPositive();
        assertThat(s.totalBytes()).isGreaterThan(s.usedBytes());
    }

    @Test
    void deviceNamesUseTheConfigSpelling() {
        assertThat(DeviceMemoryProbe.deviceName(Device.cpu())).isEqualTo("cpu");
        assertThat(DeviceMemoryProbe.deviceName(Device.gpu(1))).isEqualTo("gpu:1");
    }

    @Test
    void cpuAvailableMemoryIsTheKernelsMemAvailable() {
        assertThat(DeviceMemoryProbe.parseMemAvailable(List.of("MemTotal:       24683620 kB",
                "MemFree:        23286016 kB", "MemAvailable:   24275288 kB"))).isEqualTo(24275288L * 1024);
        long available = new DeviceMemoryProbe(Device.cpu()).availableBytes();
        assertThat(available).isPositive()
                .isLessThanOrEqualTo(new DeviceMemoryProbe(Device.cpu()).snapshot().totalBytes());
    }
}
