package dev.kvlab.training.corpus;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * An npm package pinned by version and by the SHA-1 of its tarball (npm's {@code dist.shasum}),
 * fetched with {@code npm pack} and unpacked with {@code tar} into a cache folder. A package
 * already unpacked there is not fetched again, so training runs offline once the cache exists.
 */
public record NpmPackage(String name, String version, String sha1) {

    private static final long COMMAND_TIMEOUT_MINUTES = 5;

    /** The file {@code npm pack} writes: {@code @scope/name} becomes {@code scope-name-version.tgz}. */
    public String tarballName() {
        return name.replace("@", "").replace('/', '-') + "-" + version + ".tgz";
    }

    /** Fetches and unpacks the package unless already cached; returns its root (the {@code package} folder). */
    public Path fetch(Path cacheDir) throws IOException {
        Path unpacked = cacheDir.resolve(tarballName().replace(".tgz", ""));
        Path root = unpacked.resolve("package");
        if (Files.isRegularFile(root.resolve("package.json"))) {
            return root;
        }
        Files.createDirectories(cacheDir);
        Path tarball = cacheDir.resolve(tarballName());
        if (!Files.isRegularFile(tarball)) {
            run(List.of("npm", "pack", name + "@" + version, "--pack-destination", cacheDir.toAbsolutePath().toString()));
        }
        String actual = sha1(tarball);
        if (!actual.equals(sha1)) {
            throw new IOException(tarball + ": SHA-1 " + actual + ", expected " + sha1 + " for " + name + "@" + version);
        }
        Path partial = cacheDir.resolve(unpacked.getFileName() + ".partial");
        deleteRecursively(partial);
        Files.createDirectories(partial);
        run(List.of("tar", "-xzf", tarball.toAbsolutePath().toString(), "-C", partial.toAbsolutePath().toString()));
        deleteRecursively(unpacked);
        Files.move(partial, unpacked, StandardCopyOption.ATOMIC_MOVE);
        return root;
    }

    private static void run(List<String> command) throws IOException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] output;
        try (InputStream in = process.getInputStream()) {
            output = in.readAllBytes();
        }
        try {
            if (!process.waitFor(COMMAND_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new IOException("timed out: " + String.join(" ", command));
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", command), e);
        }
        if (process.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " exited with " + process.exitValue() + ":\n"
                    + new String(output, StandardCharsets.UTF_8));
        }
    }

    private static String sha1(Path file) throws IOException {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-1");
            return HexFormat.of().formatHex(digest.digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
