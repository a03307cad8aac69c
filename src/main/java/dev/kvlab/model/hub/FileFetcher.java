package dev.kvlab.model.hub;

import dev.kvlab.model.hub.HubException.Reason;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fetches one file of a Hub repo, {@code {endpoint}/{repo}/resolve/{revision}/{file}}, into place.
 * Redirects are followed by hand so that the token is only ever sent to the endpoint's own host (the
 * Hub redirects large files to a CDN with a signed URL). Bytes go to {@code <file>.part}; a part left
 * by an interrupted try is resumed with a Range request. The size the Hub announces ({@code
 * X-Linked-Size}, else {@code Content-Length}) is checked before the part is renamed into place.
 */
final class FileFetcher {

    /** Opens the part file for writing; tests substitute one that fills up. */
    @FunctionalInterface
    interface PartOpener {
        OutputStream open(Path part, boolean append) throws IOException;
    }

    /** A file now in place: its size and the commit the Hub resolved the revision to (null if not said). */
    record Fetched(long size, String commit) {}

    private record Response(int status, HttpHeaders headers, InputStream body, Long linkedSize, String commit) {}

    private static final Logger log = LoggerFactory.getLogger(FileFetcher.class);
    private static final int MAX_REDIRECTS = 10;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(20);
    private static final Duration RESPONSE_TIMEOUT = Duration.ofSeconds(60);
    private static final long LOG_PROGRESS_ABOVE = 64L << 20;
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+)");
    private static final Pattern UNSATISFIED_RANGE = Pattern.compile("bytes \\*/(\\d+)");
    static final String USER_AGENT = "kvlab/0.1 (java.net.http)";

    static final PartOpener FILES = (part, append) -> Files.newOutputStream(part, StandardOpenOption.CREATE,
            StandardOpenOption.WRITE, append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);

    private final URI endpoint;
    private final String token;
    private final HttpClient http;
    private final PartOpener opener;

    FileFetcher(URI endpoint, String token, PartOpener opener) {
        this.endpoint = endpoint;
        this.token = token;
        this.opener = opener;
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(CONNECT_TIMEOUT)
                .build();
    }

    String endpointName() {
        return endpoint.toString();
    }

    /**
     * Downloads {@code file} to {@code target} (same folder, renamed atomically when complete).
     *
     * @return what arrived, or null when {@code optional} and the Hub has no such file
     */
    Fetched fetch(String repo, String revision, String file, Path target, boolean optional) {
        Path part = target.resolveSibling(target.getFileName() + ".part");
        String label = repo + "/" + file;
        URI uri = URI.create(endpoint.toString().replaceAll("/+$", "") + "/" + repo + "/resolve/"
                + revision.replace("/", "%2F") + "/" + file);
        for (int attempt = 0; attempt < 2; attempt++) {
            long have = sizeOf(part);
            Response r = open(uri, have, label);
            try (InputStream body = r.body()) {
                switch (r.status()) {
                    case 200 -> {
                        long expected = r.linkedSize() != null ? r.linkedSize()
                                : r.headers().firstValueAsLong("Content-Length").orElse(-1);
                        return write(body, part, target, 0, expected, label, r.commit());
                    }
                    case 206 -> {
                        Matcher m = CONTENT_RANGE.matcher(r.headers().firstValue("Content-Range").orElse(""));
                        if (!m.matches() || Long.parseLong(m.group(1)) != have) {
                            deletePart(part); // the server resumed somewhere else: start over
                            continue;
                        }
                        long expected = r.linkedSize() != null ? r.linkedSize() : Long.parseLong(m.group(3));
                        log.info("Resuming {} at byte {}", label, have);
                        return write(body, part, target, have, expected, label, r.commit());
                    }
                    case 416 -> {
                        Matcher m = UNSATISFIED_RANGE.matcher(r.headers().firstValue("Content-Range").orElse(""));
                        if (m.matches() && Long.parseLong(m.group(1)) == have) {
                            return finish(part, target, have, have, label, r.commit()); // the part was whole
                        }
                        deletePart(part);
                    }
                    case 404 -> {
                        if (optional) {
                            return null;
                        }
                        throw statusError(r, repo, revision, file);
                    }
                    default -> throw statusError(r, repo, revision, file);
                }
            } catch (IOException e) {
                throw new HubException(Reason.NETWORK, "reading " + label + " from " + endpoint + " failed: " + e, e);
            }
        }
        throw new HubException(Reason.PROTOCOL, endpoint + " did not resume " + label + " where the kept part "
                + part + " ends; delete it and start again");
    }

    /** Sends GET, following redirects; the token goes only to the endpoint's own scheme, host and port. */
    private Response open(URI start, long offset, String label) {
        URI uri = start;
        Long linkedSize = null;
        String commit = null;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder request = HttpRequest.newBuilder(uri).GET().timeout(RESPONSE_TIMEOUT)
                    .header("User-Agent", USER_AGENT);
            if (token != null && sameOrigin(uri, endpoint)) {
                request.header("Authorization", "Bearer " + token);
            }
            if (offset > 0) {
                request.header("Range", "bytes=" + offset + "-");
            }
            HttpResponse<InputStream> response = send(request.build(), label);
            HttpHeaders headers = response.headers();
            if (linkedSize == null && headers.firstValue("X-Linked-Size").isPresent()) {
                linkedSize = headers.firstValueAsLong("X-Linked-Size").getAsLong();
            }
            if (commit == null) {
                commit = headers.firstValue("X-Repo-Commit").orElse(null);
            }
            int status = response.statusCode();
            if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
                closeQuietly(response.body());
                String location = headers.firstValue("Location").orElse(null);
                if (location == null) {
                    throw new HubException(Reason.PROTOCOL,
                            uri.getHost() + " redirected " + label + " (" + status + ") without a Location");
                }
                uri = uri.resolve(location);
                continue;
            }
            return new Response(status, headers, response.body(), linkedSize, commit);
        }
        throw new HubException(Reason.PROTOCOL, "more than " + MAX_REDIRECTS + " redirects for " + label);
    }

    private HttpResponse<InputStream> send(HttpRequest request, String label) {
        String host = request.uri().getScheme() + "://" + request.uri().getAuthority();
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (HttpConnectTimeoutException | ConnectException e) {
            throw new HubException(Reason.NETWORK, "cannot connect to " + host + " for " + label + " ("
                    + HubErrors.describe(e) + "). Is there network access? HF_ENDPOINT sets a mirror; kvlab.model.path (KVLAB_MODEL_PATH)"
                    + " loads a model folder already on disk instead.", e);
        } catch (HttpTimeoutException e) {
            throw new HubException(Reason.NETWORK, host + " did not answer within " + RESPONSE_TIMEOUT.toSeconds()
                    + " s for " + label, e);
        } catch (IOException e) {
            throw new HubException(Reason.NETWORK, "request to " + host + " for " + label + " failed: "
                    + HubErrors.describe(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HubException(Reason.NETWORK, "interrupted while requesting " + label, e);
        }
    }

    private Fetched write(InputStream body, Path part, Path target, long offset, long expected, String label,
            String commit) {
        requireSpace(part, expected - offset, label);
        if (offset == 0) {
            log.info("Downloading {} ({})", label, expected < 0 ? "size unknown" : expected + " bytes");
        }
        long written = offset;
        long nextReport = expected / 10;
        try (OutputStream out = opener.open(part, offset > 0)) {
            byte[] buffer = new byte[1 << 16];
            while (true) {
                int n;
                try {
                    n = body.read(buffer);
                } catch (IOException e) {
                    throw new HubException(Reason.NETWORK, "connection lost after " + written + " of "
                            + (expected < 0 ? "?" : expected) + " bytes of " + label + " (" + HubErrors.describe(e)
                            + "); the part is kept in " + part + " and the next start resumes it", e);
                }
                if (n < 0) {
                    break;
                }
                try {
                    out.write(buffer, 0, n);
                } catch (IOException e) {
                    throw HubErrors.writeError(part, label, written, expected, e);
                }
                written += n;
                if (expected > LOG_PROGRESS_ABOVE && written >= nextReport && written < expected) {
                    log.info("  {}: {} %", label, written * 100 / expected);
                    nextReport += expected / 10;
                }
            }
        } catch (IOException e) {
            throw HubErrors.writeError(part, label, written, expected, e);
        }
        return finish(part, target, sizeOf(part), expected, label, commit);
    }

    private Fetched finish(Path part, Path target, long size, long expected, String label, String commit) {
        if (expected >= 0 && size < expected) {
            throw new HubException(Reason.INCOMPLETE, label + " ended after " + size + " of " + expected
                    + " bytes; the part is kept in " + part + " and the next start resumes it");
        }
        if (expected >= 0 && size > expected) {
            deletePart(part);
            throw new HubException(Reason.INCOMPLETE, label + " arrived with " + size + " bytes but " + expected
                    + " were announced; the part was deleted, start again");
        }
        try {
            Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw HubErrors.writeError(target, label, size, expected, e);
        }
        return new Fetched(size, commit);
    }

    private static void requireSpace(Path part, long needed, String label) {
        if (needed <= 0) {
            return;
        }
        try {
            long free = Files.getFileStore(part.getParent()).getUsableSpace();
            if (free < needed) {
                throw new HubException(Reason.DISK_FULL, label + " needs " + needed + " more bytes but only " + free
                        + " are free at " + part.getParent() + ": free some space or point kvlab.model.cache-dir"
                        + " (KVLAB_MODEL_CACHEDIR) at a larger disk");
            }
        } catch (IOException e) {
            log.debug("cannot read the free space at {}: {}", part.getParent(), e.toString());
        }
    }

    private HubException statusError(Response r, String repo, String revision, String file) {
        return HubErrors.statusError(r.status(), r.headers(), endpoint, token != null, repo, revision, file);
    }

    static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost() != null
                && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
    }

    private static int port(URI uri) {
        return uri.getPort() != -1 ? uri.getPort() : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
    }

    private static long sizeOf(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static void deletePart(Path part) {
        try {
            Files.deleteIfExists(part);
        } catch (IOException e) {
            throw new HubException(Reason.STORAGE, "cannot delete " + part + ": " + HubErrors.describe(e), e);
        }
    }

    private static void closeQuietly(InputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // a redirect's body is empty or irrelevant
        }
    }
}
