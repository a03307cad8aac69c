package dev.kvlab.serving;

import dev.kvlab.testing.TinyModels;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.springframework.util.FileSystemUtils;

/** What the HTTP-level tests share: the tiny model on disk, a plain JDK client, and an SSE reader. */
final class HttpFixture {

    static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    private HttpFixture() {}

    /** A tiny random Llama in {@code <tmp>/<name>}, deleted when the JVM exits. */
    static Path tinyModel(String name) {
        try {
            Path dir = Files.createTempDirectory("kvlab-serving-test");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    FileSystemUtils.deleteRecursively(dir);
                } catch (IOException ignored) {
                    // a temp folder left behind is harmless
                }
            }));
            TinyModels.llama().writeTo(dir.resolve(name));
            return dir.resolve(name);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static HttpRequest.Builder post(int port, String path, String json) {
        return HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json));
    }

    static HttpResponse<String> send(HttpRequest request) {
        try {
            return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static HttpResponse<InputStream> open(HttpRequest request) {
        try {
            return CLIENT.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static String get(int port, String path) {
        return send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).GET().build()).body();
    }

    /** The value of an unlabelled series, or the sum of a metric's series matching {@code labels}, in a scrape. */
    static double metric(String scrape, String name, String labels) {
        Pattern line = Pattern.compile("^" + Pattern.quote(name) + "(\\{[^}]*})? (\\S+)$", Pattern.MULTILINE);
        Matcher m = line.matcher(scrape);
        double sum = 0;
        boolean found = false;
        while (m.find()) {
            String l = m.group(1) == null ? "" : m.group(1);
            if (labels == null || l.contains(labels)) {
                sum += Double.parseDouble(m.group(2));
                found = true;
            }
        }
        if (!found) {
            throw new AssertionError("no series " + name + (labels == null ? "" : "{" + labels + "}") + " in the scrape");
        }
        return sum;
    }

    /** One server-sent event: its {@code event} name (null when none) and its data lines joined by newlines. */
    record SseEvent(String event, String data) {}

    /** Reads server-sent events as the spec (and the OpenAI SDK's decoder) does: fields until a blank line. */
    static final class SseReader implements AutoCloseable {
        private final BufferedReader in;

        SseReader(InputStream in) {
            this.in = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        }

        /** The next event, or null at the end of the stream. */
        SseEvent next() throws IOException {
            String event = null;
            StringBuilder data = null;
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isEmpty()) {
                    if (data != null || event != null) {
                        return new SseEvent(event, data == null ? "" : data.toString());
                    }
                    continue;
                }
                if (line.startsWith(":")) {
                    continue;
                }
                int colon = line.indexOf(':');
                String field = colon < 0 ? line : line.substring(0, colon);
                String value = colon < 0 ? "" : line.substring(colon + 1);
                if (value.startsWith(" ")) {
                    value = value.substring(1);
                }
                if (field.equals("event")) {
                    event = value;
                } else if (field.equals("data")) {
                    data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
                }
            }
            return data != null || event != null ? new SseEvent(event, data == null ? "" : data.toString()) : null;
        }

        List<SseEvent> all() throws IOException {
            List<SseEvent> events = new ArrayList<>();
            for (SseEvent e = next(); e != null; e = next()) {
                events.add(e);
            }
            return events;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
