package dev.kvlab.model.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kvlab.model.ModelFolder;
import dev.kvlab.model.ModelLoader;
import dev.kvlab.model.TransformerModel;
import dev.kvlab.model.hub.HubException.Reason;
import dev.kvlab.testing.TinyModel;
import dev.kvlab.testing.TinyModels;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Downloads from a local stand-in for the Hub: layouts, resume, cache, and each failure's message. */
class HubDownloaderTest {

    private static final String REPO = "acme/tiny-llama";

    @TempDir
    Path tmp;

    private FakeHub hub;
    private Path cache;

    @BeforeEach
    void startHub() throws IOException {
        hub = new FakeHub();
        cache = tmp.resolve("cache");
    }

    @AfterEach
    void stopHub() {
        hub.close();
    }

    private HubDownloader downloader(String token) {
        return new HubDownloader(hub.endpoint(), token, cache);
    }

    private TinyModel remoteModel(TinyModels.Builder builder) {
        TinyModel model = builder.writeTo(tmp.resolve("remote").resolve(REPO));
        hub.serve(REPO, model.dir());
        return model;
    }

    private static void assertSameFiles(Path remote, Path local, String... names) throws IOException {
        for (String name : names) {
            assertThat(Files.readAllBytes(local.resolve(name))).as(name).isEqualTo(Files.readAllBytes(remote.resolve(name)));
        }
    }

    @Test
    void downloadsASingleFileModelThatTheLoaderRuns() throws IOException {
        TinyModel remote = remoteModel(TinyModels.llama());

        Path dir = downloader(null).download(REPO);

        assertThat(dir).isEqualTo(cache.resolve("acme--tiny-llama"));
        assertSameFiles(remote.dir(), dir, "config.json", "tokenizer.json", "generation_config.json",
                "model.safetensors");
        assertThat(ModelFolder.open(dir).config()).isEqualTo(remote.config());
        try (TransformerModel model = ModelLoader.load(dir, new ModelLoader.Options("cpu", null))) {
            assertThat(model.config()).isEqualTo(remote.config());
        }
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".part"));
        }
    }

    @Test
    void downloadsEveryShardOfAShardedCheckpoint() throws IOException {
        TinyModel remote = remoteModel(TinyModels.llama().sharded(true));

        Path dir = downloader(null).download(REPO);

        assertSameFiles(remote.dir(), dir, "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors");
        assertThat(hub.requestsFor("model.safetensors")).hasSize(1); // asked first, 404
        try (TransformerModel model = ModelLoader.load(dir, new ModelLoader.Options("cpu", null))) {
            assertThat(model.parameterCount()).isPositive();
        }
    }

    @Test
    void anInterruptedDownloadKeepsItsPartAndResumesWithARangeRequest() throws IOException {
        TinyModel remote = remoteModel(TinyModels.llama());
        long cutAt = 10_000;
        hub.cutNextResponse("model.safetensors", cutAt);

        assertThatThrownBy(() -> downloader(null).download(REPO))
                .isInstanceOfSatisfying(HubException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NETWORK))
                .hasMessageContaining("model.safetensors")
                .hasMessageContaining("resumes");
        Path part = cache.resolve("acme--tiny-llama/model.safetensors.part");
        assertThat(Files.size(part)).isEqualTo(cutAt);

        Path dir = downloader(null).download(REPO);

        List<FakeHub.Request> weights = hub.requestsFor("model.safetensors");
        assertThat(weights).hasSize(2);
        assertThat(weights.get(1).range()).isEqualTo("bytes=" + cutAt + "-");
        assertSameFiles(remote.dir(), dir, "model.safetensors");
        assertThat(part).doesNotExist();
        assertThat(hub.requestsFor("tokenizer.json")).as("verified files are not fetched again").hasSize(1);
    }

    @Test
    void aCompleteModelInTheCacheNeedsNoNetwork() {
        remoteModel(TinyModels.llama().sharded(true));
        Path first = downloader(null).download(REPO);
        int requests = hub.requests().size();
        hub.close();

        Path second = downloader(null).download(REPO);

        assertThat(second).isEqualTo(first);
        assertThat(hub.requests()).hasSize(requests);
        assertThat(ModelFolder.open(second).dir()).isEqualTo(first);
    }

    @Test
    void aFileChangedInTheCacheIsFetchedAgain() throws IOException {
        TinyModel remote = remoteModel(TinyModels.llama());
        Path dir = downloader(null).download(REPO);
        Files.write(dir.resolve("model.safetensors"), new byte[] {1, 2, 3});

        downloader(null).download(REPO);

        assertSameFiles(remote.dir(), dir, "model.safetensors");
    }

    @Test
    void aGatedRepoWithoutATokenIs401NamingHfToken() {
        remoteModel(TinyModels.llama());
        hub.requireToken("hf_secret");

        assertThatThrownBy(() -> downloader(null).download(REPO))
                .isInstanceOfSatisfying(HubException.class,
                        e -> assertThat(e.reason()).isEqualTo(Reason.AUTHENTICATION))
                .hasMessageContaining("gated")
                .hasMessageContaining("HF_TOKEN is not set");
    }

    @Test
    void theTokenIsSentToTheHubButNotToTheCdnItRedirectsTo() {
        remoteModel(TinyModels.llama().sharded(true));
        hub.requireToken("hf_secret").redirectWeights();

        downloader("hf_secret").download(REPO);

        assertThat(hub.requests()).isNotEmpty().allSatisfy(r -> {
            if (r.path().startsWith("/cdn/")) {
                assertThat(r.authorization()).as(r.path()).isNull();
            } else {
                assertThat(r.authorization()).as(r.path()).isEqualTo("Bearer hf_secret");
            }
        });
        assertThat(hub.requests()).anyMatch(r -> r.path().startsWith("/cdn/"));
    }

    @Test
    void aMissingRepoIs404NamingTheRepoAndTheProperty() {
        assertThatThrownBy(() -> downloader(null).download("acme/no-such-model"))
                .isInstanceOfSatisfying(HubException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NOT_FOUND))
                .hasMessageContaining("acme/no-such-model")
                .hasMessageContaining("kvlab.model.id");
    }

    @Test
    void aRepoWithoutGenerationConfigIsFineButOneWithoutSafetensorsIsNot() throws IOException {
        TinyModel remote = remoteModel(TinyModels.llama());
        Files.delete(remote.dir().resolve("generation_config.json"));
        Path dir = downloader(null).download(REPO);
        assertThat(dir.resolve("generation_config.json")).doesNotExist();
        assertThat(ModelFolder.open(dir).eosTokenIds()).isNotEmpty(); // from config.json

        Files.delete(remote.dir().resolve("model.safetensors"));
        hub.serve("acme/no-weights", remote.dir());
        assertThatThrownBy(() -> downloader(null).download("acme/no-weights"))
                .isInstanceOfSatisfying(HubException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NOT_FOUND))
                .hasMessageContaining("neither model.safetensors nor model.safetensors.index.json");
    }

    @Test
    void noNetworkSaysSoAndPointsAtTheAlternatives() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        HubDownloader offline = new HubDownloader(URI.create("http://127.0.0.1:" + closedPort), null, cache);

        assertThatThrownBy(() -> offline.download(REPO))
                .isInstanceOfSatisfying(HubException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NETWORK))
                .hasMessageContaining("cannot connect to http://127.0.0.1:" + closedPort)
                .hasMessageContaining("HF_ENDPOINT")
                .hasMessageContaining("kvlab.model.path");
    }

    @Test
    void hfHubOfflineRefusesToDownloadWithoutAnyRequest() {
        remoteModel(TinyModels.llama());
        HubDownloader offline = HubDownloader.fromEnvironment(
                Map.of("HF_ENDPOINT", hub.endpoint().toString(), "HF_HUB_OFFLINE", "1"), cache);

        assertThatThrownBy(() -> offline.download(REPO))
                .isInstanceOfSatisfying(HubException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NETWORK))
                .hasMessageContaining("HF_HUB_OFFLINE");
        assertThat(hub.requests()).isEmpty();
    }

    @Test
    void aFullDiskNamesThePathAndKeepsThePartForLater() throws IOException {
        TinyModel remote = remoteModel(TinyModels.llama());
        FileFetcher.PartOpener fillsUp = (part, append) -> new FilterOutputStream(FileFetcher.FILES.open(part, append)) {
            private long written;

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                long room = part.toString().endsWith("model.safetensors.part") ? 4096 - written : len;
                out.write(b, off, (int) Math.min(len, room));
                written += Math.min(len, room);
                if (room < len) {
                    throw new IOException("No space left on device");
                }
            }
        };
        HubDownloader full = new HubDownloader(cache, new FileFetcher(hub.endpoint(), null, fillsUp), false);

        assertThatThrownBy(() -> full.download(REPO))
                .isInstanceOfSatisfying(HubException.class, e -> assertThat(e.reason()).isEqualTo(Reason.DISK_FULL))
                .hasMessageContaining("no space left")
                .hasMessageContaining(cache.resolve("acme--tiny-llama/model.safetensors.part").toString())
                .hasMessageContaining("kvlab.model.cache-dir");

        Path dir = downloader(null).download(REPO);
        assertSameFiles(remote.dir(), dir, "model.safetensors");
        assertThat(hub.requestsFor("model.safetensors").get(1).range()).startsWith("bytes=");
    }

    @Test
    void aFileShorterThanAnnouncedIsRefused() {
        remoteModel(TinyModels.llama());
        hub.redirectWeights().announceMore("model.safetensors", 10);

        assertThatThrownBy(() -> downloader(null).download(REPO))
                .isInstanceOfSatisfying(HubException.class, e -> assertThat(e.reason()).isEqualTo(Reason.INCOMPLETE))
                .hasMessageContaining("model.safetensors ended after");
        assertThat(cache.resolve("acme--tiny-llama/model.safetensors")).doesNotExist();
    }

    @Test
    void aShardIndexCannotNameFilesOutsideTheFolder() throws IOException {
        TinyModel remote = remoteModel(TinyModels.llama().sharded(true));
        Path index = remote.dir().resolve("model.safetensors.index.json");
        Files.writeString(index, Files.readString(index).replace("\"model-00001-of-00002.safetensors\"",
                "\"../../escape.safetensors\""));

        assertThatThrownBy(() -> downloader(null).download(REPO))
                .isInstanceOfSatisfying(HubException.class, e -> assertThat(e.reason()).isEqualTo(Reason.PROTOCOL))
                .hasMessageContaining("../../escape.safetensors");
    }

    @Test
    void malformedIdsAreRefusedBeforeAnyRequest() {
        for (String id : new String[] {"", "../etc", "a/b/c", "a b", "/gpt2"}) {
            assertThatThrownBy(() -> downloader(null).download(id)).as(id)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("kvlab.model.id");
        }
        assertThat(hub.requests()).isEmpty();
        assertThat(HubDownloader.folderName("openai-community/gpt2", "main")).isEqualTo("openai-community--gpt2");
        assertThat(HubDownloader.folderName("gpt2", "refs/pr/1")).isEqualTo("gpt2@refs--pr--1");
    }
}
