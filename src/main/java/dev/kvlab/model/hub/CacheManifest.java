package dev.kvlab.model.hub;

import dev.kvlab.model.hub.HubException.Reason;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * What a cached model folder holds, written as {@value #FILE_NAME} after every file that arrived
 * whole: the repo, revision and commit, and each file with its size. {@code complete} is set once all
 * files are in; a folder whose manifest is complete and whose files have their recorded sizes is used
 * with no network call. After an interrupted download, files already verified at the same commit
 * are not fetched again.
 */
final class CacheManifest {

    static final String FILE_NAME = ".kvlab-hub.json";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final String repo;
    private final String revision;
    private final String commit;
    private final Map<String, Long> files;
    private boolean complete;

    private CacheManifest(String repo, String revision, String commit, Map<String, Long> files, boolean complete) {
        this.repo = repo;
        this.revision = revision;
        this.commit = commit;
        this.files = new LinkedHashMap<>(files);
        this.complete = complete;
    }

    /** A new manifest at {@code commit}, keeping what {@code previous} verified when it is of the same commit. */
    static CacheManifest start(String repo, String revision, String commit, CacheManifest previous) {
        boolean same = previous != null && previous.repo.equals(repo) && previous.revision.equals(revision)
                && Objects.equals(previous.commit, commit);
        return new CacheManifest(repo, revision, commit, same ? previous.files : Map.of(), false);
    }

    /** The manifest in {@code dir}, or null when there is none or it cannot be read (then the folder is refetched). */
    static CacheManifest read(Path dir) {
        Path file = dir.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            JsonNode root = JSON.readTree(Files.readString(file));
            Map<String, Long> files = new LinkedHashMap<>();
            root.path("files").properties().forEach(e -> files.put(e.getKey(), e.getValue().asLong()));
            String commit = root.path("commit").isString() ? root.path("commit").asString() : null;
            return new CacheManifest(root.path("repo").asString(), root.path("revision").asString(), commit, files,
                    root.path("complete").asBoolean(false));
        } catch (IOException | JacksonException e) {
            return null;
        }
    }

    /** Complete for this repo and revision, and every file still there with its recorded size. */
    boolean isCompleteIn(Path dir, String repo, String revision) {
        return complete && this.repo.equals(repo) && this.revision.equals(revision)
                && files.keySet().stream().allMatch(name -> verified(dir, name));
    }

    /** {@code name} was recorded and is on disk with the recorded size. */
    boolean verified(Path dir, String name) {
        Long size = files.get(name);
        try {
            return size != null && Files.isRegularFile(dir.resolve(name)) && Files.size(dir.resolve(name)) == size;
        } catch (IOException e) {
            return false;
        }
    }

    boolean lists(String name) {
        return files.containsKey(name);
    }

    Map<String, Long> files() {
        return Map.copyOf(files);
    }

    void record(Path dir, String name, long size) {
        files.put(name, size);
        write(dir);
    }

    void markComplete(Path dir) {
        complete = true;
        write(dir);
    }

    private void write(Path dir) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("repo", repo);
        json.put("revision", revision);
        json.put("commit", commit);
        json.put("complete", complete);
        json.put("files", files);
        Path tmp = dir.resolve(FILE_NAME + ".tmp");
        try {
            Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n");
            Files.move(tmp, dir.resolve(FILE_NAME), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new HubException(HubErrors.isDiskFull(e) ? Reason.DISK_FULL : Reason.STORAGE,
                    "cannot write " + dir.resolve(FILE_NAME) + ": " + e.getMessage(), e);
        }
    }
}
