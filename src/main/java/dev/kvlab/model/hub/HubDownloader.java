package dev.kvlab.model.hub;

import dev.kvlab.model.hub.HubException.Reason;
import java.io.IOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Fetches a model from the Hugging Face Hub into a local cache folder that {@code ModelLoader} can
 * open: {@code config.json}, {@code tokenizer.json}, {@code generation_config.json} when the repo has
 * one, and {@code model.safetensors} or {@code model.safetensors.index.json} with its shards. Files
 * come from {@code {endpoint}/{repo}/resolve/{revision}/{file}}, the layout the Hub and its mirrors
 * serve, into {@code <cacheDir>/<owner>--<name>}.
 *
 * <p>A folder already complete is used with no network call. Interrupted downloads resume: files
 * already verified are kept and a partial file continues from where it stopped. Processes that share
 * the cache (replicas on one volume) take a file lock, so one downloads and the others wait and reuse.
 *
 * <pre>{@code
 * Path dir = HubDownloader.fromEnvironment(Path.of("data/hub")).download("openai-community/gpt2");
 * }</pre>
 */
public final class HubDownloader {

    public static final URI DEFAULT_ENDPOINT = URI.create("https://huggingface.co");
    public static final String DEFAULT_REVISION = "main";

    static final String CONFIG = "config.json";
    static final String TOKENIZER = "tokenizer.json";
    static final String GENERATION_CONFIG = "generation_config.json";
    static final String SINGLE_FILE = "model.safetensors";
    static final String SHARD_INDEX = "model.safetensors.index.json";
    private static final String LOCK_FILE = ".kvlab-hub.lock";

    private static final Pattern REPO_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?");
    private static final Pattern REVISION = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]*");
    private static final Pattern SHARD = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*\\.safetensors");
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Logger log = LoggerFactory.getLogger(HubDownloader.class);
    /** FileLock is per process; this keeps two threads of one process from asking for it twice. */
    private static final Object IN_PROCESS = new Object();

    private final Path cacheDir;
    private final FileFetcher fetcher;
    private final boolean offline;

    /**
     * @param endpoint the Hub or a mirror ({@code HF_ENDPOINT}), e.g. {@code https://huggingface.co}
     * @param token sent as {@code Authorization: Bearer} to the endpoint's host only; null for none
     * @param cacheDir where model folders are kept, created when missing
     */
    public HubDownloader(URI endpoint, String token, Path cacheDir) {
        this(cacheDir, new FileFetcher(checkEndpoint(endpoint), blankToNull(token), FileFetcher.FILES), false);
    }

    HubDownloader(Path cacheDir, FileFetcher fetcher, boolean offline) {
        this.cacheDir = cacheDir;
        this.fetcher = fetcher;
        this.offline = offline;
    }

    /** Reads {@code HF_ENDPOINT}, {@code HF_TOKEN} and {@code HF_HUB_OFFLINE} as the Hub's own clients do. */
    public static HubDownloader fromEnvironment(Path cacheDir) {
        return fromEnvironment(System.getenv(), cacheDir);
    }

    static HubDownloader fromEnvironment(Map<String, String> env, Path cacheDir) {
        String endpoint = blankToNull(env.get("HF_ENDPOINT"));
        URI uri = endpoint == null ? DEFAULT_ENDPOINT : URI.create(endpoint.trim());
        String offline = blankToNull(env.get("HF_HUB_OFFLINE"));
        boolean isOffline = offline != null && !offline.equals("0") && !offline.equalsIgnoreCase("false");
        return new HubDownloader(cacheDir, new FileFetcher(checkEndpoint(uri), blankToNull(env.get("HF_TOKEN")),
                FileFetcher.FILES), isOffline);
    }

    /** The model folder of {@code repoId} at the {@value #DEFAULT_REVISION} revision, fetched if not cached. */
    public Path download(String repoId) {
        return download(repoId, DEFAULT_REVISION);
    }

    /**
     * The model folder of {@code repoId} at {@code revision} (a branch, tag or commit), fetched if not
     * complete in the cache.
     *
     * @throws HubException with a message that says what to fix, and {@link HubException#reason()}
     * @throws IllegalArgumentException when the repo id or revision is malformed
     */
    public Path download(String repoId, String revision) {
        if (repoId == null || !REPO_ID.matcher(repoId).matches() || repoId.contains("..")) {
            throw new IllegalArgumentException("kvlab.model.id: '" + repoId + "' is not a Hub repo id like"
                    + " 'openai-community/gpt2' or 'gpt2'");
        }
        if (revision == null || !REVISION.matcher(revision).matches() || revision.contains("..")) {
            throw new IllegalArgumentException("'" + revision + "' is not a Hub revision (branch, tag or commit)");
        }
        Path dir = cacheDir.resolve(folderName(repoId, revision));
        if (isCached(dir, repoId, revision)) {
            return dir;
        }
        if (offline) {
            throw new HubException(Reason.NETWORK, "HF_HUB_OFFLINE is set and " + repoId + " is not complete in "
                    + dir.toAbsolutePath() + ": unset it to download, or copy the model folder there");
        }
        synchronized (IN_PROCESS) {
            createDirectories(dir);
            try (FileChannel channel = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE)) {
                FileLock lock = lock(channel, dir);
                try {
                    if (!isCached(dir, repoId, revision)) { // another process may have finished it meanwhile
                        fetchAll(repoId, revision, dir);
                    }
                    return dir;
                } finally {
                    if (lock != null) {
                        lock.release();
                    }
                }
            } catch (IOException e) {
                throw new HubException(HubErrors.isDiskFull(e) ? Reason.DISK_FULL : Reason.STORAGE,
                        "cannot write the lock file " + dir.resolve(LOCK_FILE) + ": " + e.getMessage(), e);
            }
        }
    }

    /** Waits for other processes downloading into {@code dir}; null where the file system has no locks (some NFS). */
    private static FileLock lock(FileChannel channel, Path dir) {
        try {
            return channel.lock();
        } catch (IOException e) {
            log.warn("Cannot lock {} ({}): downloading without a lock, so replicas sharing it may fetch twice",
                    dir, e.getMessage());
            return null;
        }
    }

    /** {@code owner/name} at main is kept in {@code owner--name}; another revision adds {@code @revision}. */
    public static String folderName(String repoId, String revision) {
        String name = repoId.replace("/", "--");
        return DEFAULT_REVISION.equals(revision) ? name : name + "@" + revision.replace("/", "--");
    }

    private static boolean isCached(Path dir, String repoId, String revision) {
        CacheManifest manifest = CacheManifest.read(dir);
        if (manifest != null && manifest.isCompleteIn(dir, repoId, revision)) {
            log.info("Using {} (revision {}) from the cache {}", repoId, revision, dir.toAbsolutePath());
            return true;
        }
        return false;
    }

    private void fetchAll(String repo, String revision, Path dir) {
        log.info("Fetching {} (revision {}) from {} into {}", repo, revision, fetcher.endpointName(),
                dir.toAbsolutePath());
        FileFetcher.Fetched config = fetcher.fetch(repo, revision, CONFIG, dir.resolve(CONFIG), false);
        CacheManifest manifest = CacheManifest.start(repo, revision, config.commit(), CacheManifest.read(dir));
        manifest.record(dir, CONFIG, config.size());
        fetch(manifest, repo, revision, dir, TOKENIZER, false);
        fetch(manifest, repo, revision, dir, GENERATION_CONFIG, true);
        if (!manifest.verified(dir, SINGLE_FILE) && !manifest.verified(dir, SHARD_INDEX)
                && !fetch(manifest, repo, revision, dir, SINGLE_FILE, true)
                && !fetch(manifest, repo, revision, dir, SHARD_INDEX, true)) {
            throw new HubException(Reason.NOT_FOUND, repo + " (revision " + revision + ") has neither "
                    + SINGLE_FILE + " nor " + SHARD_INDEX + ": kvlab reads safetensors checkpoints only"
                    + " (pytorch_model.bin is not supported)");
        }
        if (manifest.lists(SHARD_INDEX)) {
            for (String shard : shards(dir.resolve(SHARD_INDEX))) {
                fetch(manifest, repo, revision, dir, shard, false);
            }
        }
        removeStaleWeights(dir, manifest);
        manifest.markComplete(dir);
        log.info("{} is complete in {}", repo, dir.toAbsolutePath());
    }

    /** Fetches {@code name} unless already verified; false when optional and absent on the Hub. */
    private boolean fetch(CacheManifest manifest, String repo, String revision, Path dir, String name,
            boolean optional) {
        if (manifest.verified(dir, name)) {
            return true;
        }
        FileFetcher.Fetched fetched = fetcher.fetch(repo, revision, name, dir.resolve(name), optional);
        if (fetched == null) {
            return false;
        }
        manifest.record(dir, name, fetched.size());
        return true;
    }

    /** The shard files an index names, each checked to be a plain file name (no path may escape the folder). */
    static Set<String> shards(Path index) {
        JsonNode weightMap;
        try {
            weightMap = JSON.readTree(Files.readString(index)).path("weight_map");
        } catch (IOException | JacksonException e) {
            throw new HubException(Reason.PROTOCOL, "cannot read the shard index " + index + ": " + e.getMessage(), e);
        }
        Set<String> shards = new LinkedHashSet<>();
        weightMap.properties().forEach(e -> shards.add(e.getValue().asString()));
        if (shards.isEmpty()) {
            throw new HubException(Reason.PROTOCOL, index + " has no weight_map entries");
        }
        for (String shard : shards) {
            if (!SHARD.matcher(shard).matches() || shard.contains("..")) {
                throw new HubException(Reason.PROTOCOL, index + " names a shard '" + shard
                        + "' that is not a plain .safetensors file name");
            }
        }
        return shards;
    }

    /** Weights of an older commit left in the folder would be opened instead of the new ones: remove them. */
    private static void removeStaleWeights(Path dir, CacheManifest manifest) {
        Set<String> keep = manifest.files().keySet();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                boolean weights = name.endsWith(".safetensors") || name.equals(SHARD_INDEX) || name.endsWith(".part");
                if (weights && !keep.contains(name)) {
                    Files.deleteIfExists(entry);
                }
            }
        } catch (IOException e) {
            throw new HubException(Reason.STORAGE, "cannot tidy " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void createDirectories(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new HubException(HubErrors.isDiskFull(e) ? Reason.DISK_FULL : Reason.STORAGE,
                    "cannot create the cache folder " + dir.toAbsolutePath() + " (kvlab.model.cache-dir): " + e, e);
        }
    }

    private static URI checkEndpoint(URI endpoint) {
        String scheme = endpoint.getScheme();
        if (scheme == null || !(scheme.equals("http") || scheme.equals("https")) || endpoint.getHost() == null) {
            throw new IllegalArgumentException("HF_ENDPOINT: '" + endpoint + "' is not an http(s) URL with a host");
        }
        return endpoint;
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }
}
