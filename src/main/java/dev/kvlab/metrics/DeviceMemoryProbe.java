package dev.kvlab.metrics;

import ai.djl.Device;
import ai.djl.util.cuda.CudaUtils;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.lang.management.OperatingSystemMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Reads how much memory the model's device holds now. On a GPU that is the device-wide figure CUDA
 * reports (weights, caches, the caching allocator and other processes alike). On the CPU, DJL does
 * not expose what native tensors hold, so the process's resident set ({@code VmRSS}: heap plus
 * native) is the figure, against the machine's physical memory.
 */
public final class DeviceMemoryProbe {

    private static final Path PROC_STATUS = Path.of("/proc/self/status");
    private static final Path PROC_MEMINFO = Path.of("/proc/meminfo");

    private final Device device;

    public DeviceMemoryProbe(Device device) {
        this.device = device;
    }

    /** One reading of the device's memory. */
    public record Snapshot(String device, long usedBytes, long totalBytes) {}

    public Snapshot snapshot() {
        if (device.isGpu()) {
            MemoryUsage usage = CudaUtils.getGpuMemory(device);
            return new Snapshot(deviceName(device), usage.getUsed(), usage.getMax());
        }
        return new Snapshot(deviceName(device), residentSetBytes(), physicalMemoryBytes());
    }

    /**
     * Memory a new allocation could still get on the device: total minus used on a GPU; on the CPU the
     * kernel's {@code MemAvailable} (free plus reclaimable), or physical minus resident where there is
     * no {@code /proc}.
     */
    public long availableBytes() {
        if (device.isGpu()) {
            MemoryUsage usage = CudaUtils.getGpuMemory(device);
            return Math.max(0, usage.getMax() - usage.getUsed());
        }
        try {
            return parseMemAvailable(Files.readAllLines(PROC_MEMINFO));
        } catch (IOException | RuntimeException e) {
            return Math.max(0, physicalMemoryBytes() - residentSetBytes());
        }
    }

    /** The {@code MemAvailable:  123456 kB} line of {@code /proc/meminfo}, in bytes. */
    static long parseMemAvailable(List<String> meminfoLines) {
        return kilobytesLine(meminfoLines, "MemAvailable:");
    }

    public String deviceName() {
        return deviceName(device);
    }

    public boolean isGpu() {
        return device.isGpu();
    }

    /** The device's memory: a GPU's total, or the machine's physical memory. */
    public long totalBytes() {
        return snapshot().totalBytes();
    }

    /** {@code cpu} or {@code gpu:N}, the spelling {@code kvlab.device} accepts. */
    public static String deviceName(Device device) {
        return device.isGpu() ? "gpu:" + device.getDeviceId() : "cpu";
    }

    /** The process's resident set from {@code /proc}; the JVM's own heap use where there is no {@code /proc}. */
    static long residentSetBytes() {
        try {
            return parseVmRss(Files.readAllLines(PROC_STATUS));
        } catch (IOException | RuntimeException e) {
            Runtime rt = Runtime.getRuntime();
            return rt.totalMemory() - rt.freeMemory();
        }
    }

    /** The {@code VmRSS:  123456 kB} line of {@code /proc/self/status}, in bytes. */
    static long parseVmRss(List<String> statusLines) {
        return kilobytesLine(statusLines, "VmRSS:");
    }

    private static long kilobytesLine(List<String> lines, String key) {
        for (String line : lines) {
            if (line.startsWith(key)) {
                String[] parts = line.substring(key.length()).trim().split("\\s+");
                return Long.parseLong(parts[0]) * 1024L;
            }
        }
        throw new IllegalStateException("no " + key + " line");
    }

    private static long physicalMemoryBytes() {
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            return sun.getTotalMemorySize();
        }
        return Runtime.getRuntime().maxMemory();
    }
}
