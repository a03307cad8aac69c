package dev.kvlab.check;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.engine.Engine;
import ai.djl.util.Utils;
import dev.kvlab.testing.TinyModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The portable engine bundle, built by {@code scripts/build-bundle.sh} from this test's classpath, then
 * unpacked and run as a host without Java would: {@code bin/selfcheck} on its own runtime, with the
 * CPU libtorch DJL extracted from the Maven cache as the host's PyTorch.
 */
class BundleTest {

    @TempDir
    Path dir;

    @Test
    void theUnpackedBundleRunsTheSelfCheckOnItsOwnRuntime() throws Exception {
        assumeTrue(Files.isExecutable(Path.of(System.getProperty("java.home"), "bin", "jlink")),
                "this JDK has no jlink");
        Engine.getInstance(); // extracts the CPU libtorch into DJL's cache
        Path libtorch = cpuLibtorch();
        Path model = TinyModels.llama().writeTo(dir.resolve("model")).dir();

        run(dir, List.of("scripts/build-bundle.sh", "test", System.getProperty("java.class.path"), dir.toString()),
                Path.of("").toAbsolutePath(), null);
        Path tarball = dir.resolve("kvlab-engine-test.tar.gz");
        assertThat(Files.size(tarball)).as("bundle size").isLessThanOrEqualTo(35L << 20);
        Path unpacked = Files.createDirectory(dir.resolve("host"));
        run(dir, List.of("tar", "-xzf", tarball.toString(), "-C", unpacked.toString()), unpacked, null);
        Path home = unpacked.resolve("kvlab-engine-test");
        assertThat(home.resolve("runtime/bin/java")).isExecutable();
        try (Stream<Path> jars = Files.list(home.resolve("lib"))) {
            assertThat(jars.map(p -> p.getFileName().toString()))
                    .noneMatch(n -> n.startsWith("spring") || n.startsWith("pytorch-native") || n.startsWith("pytorch-jni"));
        }

        String out = run(dir, List.of(home.resolve("bin/selfcheck").toString(), model.toString(), "--kv-limit", "16384"),
                home, libtorch);
        List<String> lines = out.lines().toList();
        JsonNode report = JsonMapper.shared().readTree(lines.get(lines.size() - 1));
        assertThat(report.path("ok").asBoolean()).as(out).isTrue();
        assertThat(report.path("checks").path("logits").path("ok").asBoolean()).isTrue();
    }

    /** DJL's extracted CPU libtorch, with its JNI glue: what a host's PyTorch folder would be. */
    private static Path cpuLibtorch() throws IOException {
        try (Stream<Path> dirs = Files.list(Utils.getEngineCacheDir("pytorch"))) {
            return dirs.filter(d -> d.getFileName().toString().endsWith("cpu-linux-x86_64")
                    && Files.exists(d.resolve("libtorch.so"))).findFirst()
                    .orElseThrow(() -> new IllegalStateException("no extracted CPU libtorch in DJL's cache"));
        }
    }

    private static String run(Path dir, List<String> command, Path workDir, Path libtorch) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true);
        Path log = Files.createTempFile(dir, "run", ".log");
        pb.redirectOutput(log.toFile());
        if (libtorch != null) {
            pb.environment().put("PYTORCH_LIBRARY_PATH", libtorch.toString());
            pb.environment().put("PYTORCH_VERSION", Engine.getEngine("PyTorch").getVersion());
            pb.environment().put("PYTORCH_FLAVOR", "cpu");
        }
        Process p = pb.start();
        boolean finished = p.waitFor(5, TimeUnit.MINUTES);
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(finished).as("%s timed out: %s", command.get(0), out).isTrue();
        assertThat(p.exitValue()).as("%s failed: %s", command.get(0), out).isZero();
        return out;
    }
}
