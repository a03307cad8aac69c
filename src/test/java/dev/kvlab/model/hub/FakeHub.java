package dev.kvlab.model.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A local stand-in for the Hugging Face Hub on 127.0.0.1: serves model folders at {@code
 * /{repo}/resolve/{revision}/{file}} with the Hub's headers ({@code X-Repo-Commit}, {@code
 * X-Error-Code}), honours Range requests, and can demand a token, send {@code *.safetensors} through
 * a redirect to a "CDN" on another host name ({@code localhost}, with {@code X-Linked-Size}), cut a
 * response short, or lie about a size. Every request is logged.
 */
final class FakeHub implements AutoCloseable {

    /** One request as the server saw it. */
    record Request(String path, String range, String authorization) {}

    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

    private final HttpServer server;
    private final Map<String, Path> repos = new ConcurrentHashMap<>();
    private final Map<String, Long> cutAfter = new ConcurrentHashMap<>();
    private final Map<String, Long> extraLinkedSize = new ConcurrentHashMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private volatile String requiredToken;
    private volatile boolean redirectWeights;
    private volatile boolean stopped;

    FakeHub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    /** The endpoint to use as HF_ENDPOINT. */
    URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    FakeHub serve(String repo, Path dir) {
        repos.put(repo, dir);
        return this;
    }

    /** Answers 401 (X-Error-Code GatedRepo) unless {@code Authorization: Bearer token}. */
    FakeHub requireToken(String token) {
        requiredToken = token;
        return this;
    }

    /** Sends *.safetensors as the Hub does: 302 to another host, size in X-Linked-Size. */
    FakeHub redirectWeights() {
        redirectWeights = true;
        return this;
    }

    /** The next response for {@code file} announces the full length but stops after {@code bytes}. */
    FakeHub cutNextResponse(String file, long bytes) {
        cutAfter.put(file, bytes);
        return this;
    }

    /** X-Linked-Size for {@code file} claims {@code extra} bytes more than the file has. */
    FakeHub announceMore(String file, long extra) {
        extraLinkedSize.put(file, extra);
        return this;
    }

    List<Request> requests() {
        return List.copyOf(requests);
    }

    List<Request> requestsFor(String file) {
        return requests.stream().filter(r -> r.path().endsWith("/" + file)).toList();
    }

    @Override
    public void close() {
        if (!stopped) {
            stopped = true;
            server.stop(0);
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getRawPath();
            String range = exchange.getRequestHeaders().getFirst("Range");
            String authorization = exchange.getRequestHeaders().getFirst("Authorization");
            requests.add(new Request(path, range, authorization));
            boolean cdn = path.startsWith("/cdn/");
            int resolve = path.indexOf("/resolve/");
            if (!cdn && resolve < 0) {
                send(exchange, 404, "RepoNotFound");
                return;
            }
            String repo = cdn ? path.substring(5, path.lastIndexOf('/')) : path.substring(1, resolve);
            String file = path.substring(path.lastIndexOf('/') + 1);
            Path dir = repos.get(repo);
            if (dir == null) {
                send(exchange, requiredToken != null ? 401 : 404, "RepoNotFound");
                return;
            }
            if (!cdn && requiredToken != null && !("Bearer " + requiredToken).equals(authorization)) {
                send(exchange, 401, "GatedRepo");
                return;
            }
            Path source = dir.resolve(file);
            if (!Files.isRegularFile(source)) {
                send(exchange, 404, "EntryNotFound");
                return;
            }
            byte[] bytes = Files.readAllBytes(source);
            exchange.getResponseHeaders().add("X-Repo-Commit", COMMIT);
            if (!cdn && redirectWeights && file.endsWith(".safetensors")) {
                exchange.getResponseHeaders().add("X-Linked-Size",
                        Long.toString(bytes.length + extraLinkedSize.getOrDefault(file, 0L)));
                exchange.getResponseHeaders().add("Location",
                        "http://localhost:" + server.getAddress().getPort() + "/cdn/" + repo + "/" + file);
                exchange.sendResponseHeaders(302, -1);
                return;
            }
            sendFile(exchange, file, bytes, range);
        }
    }

    private void sendFile(HttpExchange exchange, String file, byte[] bytes, String range) throws IOException {
        int from = 0;
        Matcher m = range == null ? null : RANGE.matcher(range);
        if (m != null && m.matches()) {
            from = (int) Math.min(Long.parseLong(m.group(1)), Integer.MAX_VALUE);
            if (from >= bytes.length) {
                exchange.getResponseHeaders().add("Content-Range", "bytes */" + bytes.length);
                exchange.sendResponseHeaders(416, -1);
                return;
            }
            exchange.getResponseHeaders().add("Content-Range",
                    "bytes " + from + "-" + (bytes.length - 1) + "/" + bytes.length);
        }
        int length = bytes.length - from;
        exchange.sendResponseHeaders(from > 0 ? 206 : 200, length);
        Long cut = cutAfter.remove(file);
        OutputStream body = exchange.getResponseBody();
        body.write(bytes, from, cut == null ? length : (int) Math.min(cut, length));
        body.flush();
        if (cut != null) {
            // fewer bytes than Content-Length, then the connection drops: what a client sees when a download breaks
            throw new IOException("FakeHub cut " + file + " after " + cut + " bytes");
        }
    }

    private static void send(HttpExchange exchange, int status, String errorCode) throws IOException {
        exchange.getResponseHeaders().add("X-Error-Code", errorCode);
        exchange.sendResponseHeaders(status, -1);
    }
}
