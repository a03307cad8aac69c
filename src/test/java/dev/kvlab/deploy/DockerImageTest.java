package dev.kvlab.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Dockerfiles cannot be built here (no Docker engine), so what can be checked without one is:
 * the CUDA image's libtorch settings agree with the DJL jars on the classpath, both images are
 * offline, non-root and health-checked, and they copy what the repository and .dockerignore provide.
 */
class DockerImageTest {

    private static final String CUDA = "docker/Dockerfile";
    private static final String CPU = "docker/Dockerfile.cpu";

    private static Properties pytorchJni() throws IOException {
        try (InputStream in = DockerImageTest.class.getResourceAsStream("/jnilib/pytorch.properties")) {
            assertThat(in).as("pytorch-jni on the classpath").isNotNull();
            Properties p = new Properties();
            p.load(in);
            return p;
        }
    }

    @Test
    void theCudaImageSelectsALibtorchThePytorchJniJarHasGlueFor() throws IOException {
        Map<String, String> env = DeployFiles.runtimeEnv(CUDA);
        String version = env.get("PYTORCH_VERSION");
        String flavor = env.get("PYTORCH_FLAVOR");

        // DJL downloads a JNI library unless jni_version starts with "<PYTORCH_VERSION>-<DJL version>"
        assertThat(pytorchJni().getProperty("jni_version")).startsWith(version + "-");
        // ... and loads the glue for the flavor from the jar; without PYTORCH_FLAVOR it would look for cu128-precxx11
        assertThat(DockerImageTest.class.getResource("/jnilib/linux-x86_64/" + flavor + "/libdjl_torch.so"))
                .as("jnilib/linux-x86_64/%s/libdjl_torch.so in pytorch-jni", flavor).isNotNull();

        String dockerfile = DeployFiles.read(CUDA);
        assertThat(dockerfile).contains("ARG TORCH_VERSION=" + version)
                .contains("ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/" + flavor);
        String cuda = flavor.substring(2, 4) + "." + flavor.substring(4); // cu128 -> 12.8
        assertThat(dockerfile).containsPattern("ARG CUDA_IMAGE=nvidia/cuda:" + cuda.replace(".", "\\.") + "\\.\\d+-");

        String libraryPath = env.get("PYTORCH_LIBRARY_PATH");
        assertThat(libraryPath).endsWith("/site-packages/torch/lib");
        String sitePackages = libraryPath.substring(0, libraryPath.length() - "/torch/lib".length());
        assertThat(DeployFiles.instructions(CUDA, "COPY"))
                .contains("--from=libtorch " + sitePackages + " " + sitePackages);
    }

    @ParameterizedTest
    @ValueSource(strings = {CUDA, CPU})
    void imagesRunOfflineAsNonRootWithAHealthcheckAndTheShippedModel(String dockerfile) {
        Map<String, String> env = DeployFiles.runtimeEnv(dockerfile);
        assertThat(env).containsEntry("DJL_OFFLINE", "true").containsEntry("OPT_OUT_TRACKING", "true")
                .containsEntry("RUST_FLAVOR", "cpu")
                .containsEntry("KVLAB_MODEL_PATH", "/models/kvlab-tiny")
                .containsEntry("KVLAB_MODEL_CACHEDIR", "/models/hub")
                .containsKey("DJL_CACHE_DIR");

        List<String> users = DeployFiles.instructions(dockerfile, "USER");
        assertThat(users).isNotEmpty();
        assertThat(users.get(users.size() - 1)).doesNotStartWith("root").doesNotStartWith("0");
        assertThat(DeployFiles.instructions(dockerfile, "HEALTHCHECK"))
                .singleElement().asString().contains("http://localhost:8080/actuator/health");
        assertThat(DeployFiles.instructions(dockerfile, "EXPOSE")).containsExactly("8080");
        assertThat(DeployFiles.instructions(dockerfile, "COPY")).contains("models/kvlab-tiny/ /models/kvlab-tiny/");
        assertThat(DeployFiles.read(dockerfile)).contains("./mvnw -B -q -DskipTests package")
                .contains("chown -R kvlab:kvlab /models/hub /app/data " + env.get("DJL_CACHE_DIR"));
        if (dockerfile.equals(CPU)) {
            assertThat(env).doesNotContainKeys("PYTORCH_LIBRARY_PATH", "PYTORCH_FLAVOR", "PYTORCH_VERSION");
        }
    }

    @Test
    void theBuildContextHoldsWhatTheImagesCopy() throws IOException {
        List<String> ignore = List.of(DeployFiles.read(".dockerignore").split("\n"));
        assertThat(ignore).contains("*", "!.mvn", "!mvnw", "!pom.xml", "!src", "!models/kvlab-tiny");
        for (String path : List.of(".mvn", "mvnw", "pom.xml", "src/main", "models/kvlab-tiny")) {
            assertThat(Path.of(path)).exists();
        }
        assertThat(Files.isExecutable(Path.of("mvnw"))).isTrue();
    }
}
