package dev.kvlab.bench;

import dev.kvlab.KvlabApplication;
import dev.kvlab.testing.TinyModels;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Load client for a kvlab server: streams {@code POST /generate} from 1, 2 and 8 concurrent clients
 * and prints, per level, time to first token (client-side, from sending the request to the first
 * {@code token} event: queueing and prefill included), per-request decode tokens/s, the aggregate
 * tokens/s of all clients, and percentiles of the sequences per scheduler step over the level (from
 * the server's {@code kvlab_batch_size} histogram). A harness, not a test.
 *
 * <pre>
 * ./mvnw -q -Pbench -Dbench.main=dev.kvlab.bench.ServingLoadBenchmark \
 *     -Dbench.args="--url http://localhost:8080 --new 64 --requests 8"
 * ./mvnw -q -Pbench -Dbench.main=dev.kvlab.bench.ServingLoadBenchmark -Dbench.args="--model models/kvlab-tiny"
 * ./mvnw -q -Pbench -Dbench.main=dev.kvlab.bench.ServingLoadBenchmark -Dbench.args="--fixture"
 * </pre>
 * {@code --model DIR} and {@code --fixture} (the tiny random test Llama) start a server in this JVM on a
 * free port first; {@code --key K} sends an API key; {@code --levels 1,2,8}, {@code --prompt TEXT},
 * {@code --policy NAME --budget N} choose the load. Before the levels, {@code --warmup N} requests per
 * client (default 2) run at the highest level and are not reported: the first seconds of a JVM run
 * its just-in-time compiler beside the load, which measured 5 to 15 % slower.
 */
public final class ServingLoadBenchmark {

    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private record Options(String url, Path model, boolean fixture, String key, int newTokens, int requests,
            int[] levels, String prompt, String policy, int budget, int warmup) {}

    /** One streamed request as the client saw it. */
    private record Sample(double ttftMs, double decodeTokensPerSecond, int tokens, boolean ok) {}

    public static void main(String[] args) throws Exception {
        Options o = parse(args);
        ConfigurableApplicationContext server = null;
        String url = o.url();
        if (o.model() != null || o.fixture()) {
            Path dir = o.fixture() ? TinyModels.llama().writeTo(Files.createTempDirectory("kvlab-bench").resolve("tiny"))
                    .dir() : o.model();
            server = new SpringApplicationBuilder(KvlabApplication.class)
                    .run("--server.port=0", "--kvlab.model.path=" + dir, "--kvlab.serving.max-concurrent=8",
                            "--kvlab.serving.max-queue=64", "--spring.main.banner-mode=off",
                            "--logging.level.root=WARN");
            url = "http://localhost:" + ((WebServerApplicationContext) server).getWebServer().getPort();
            System.out.println("server: " + dir + " on " + url + " (max-concurrent 8)");
        }
        try {
            System.out.printf(Locale.ROOT, "prompt %d chars, %d new tokens, policy %s, %d requests per client%n",
                    o.prompt().length(), o.newTokens(), o.policy(), o.requests());
            // warm-up: the JIT compiles the hot paths of the serving code under the heaviest load first
            run(url, o, Arrays.stream(o.levels()).max().orElse(1), o.warmup(), false);
            System.out.println("clients | requests | TTFT p50 ms | TTFT p90 ms | decode tok/s per request (p50)"
                    + " | aggregate tok/s | batch size p50 / p90 / max | step ms (mean) | tokens per step (mean)");
            for (int clients : o.levels()) {
                run(url, o, clients, o.requests(), true);
            }
        } finally {
            if (server != null) {
                server.close();
            }
        }
    }

    private static void run(String url, Options o, int clients, int requestsPerClient, boolean print)
            throws Exception {
        String scrapeBefore = scrape(url, o);
        TreeMap<Double, Double> batchesBefore = batchSizeBuckets(scrapeBefore);
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<List<Sample>>> futures = new ArrayList<>();
        long start = System.nanoTime();
        for (int c = 0; c < clients; c++) {
            futures.add(pool.submit(() -> {
                List<Sample> samples = new ArrayList<>();
                for (int i = 0; i < requestsPerClient; i++) {
                    samples.add(once(url, o));
                }
                return samples;
            }));
        }
        List<Sample> all = new ArrayList<>();
        for (Future<List<Sample>> f : futures) {
            all.addAll(f.get());
        }
        double wallSeconds = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        if (!print) {
            return;
        }
        List<Sample> ok = all.stream().filter(Sample::ok).toList();
        int tokens = ok.stream().mapToInt(Sample::tokens).sum();
        String scrapeAfter = scrape(url, o);
        TreeMap<Double, Double> batches = batchSizeBuckets(scrapeAfter);
        double steps = value(scrapeAfter, "kvlab_scheduler_steps_total") - value(scrapeBefore, "kvlab_scheduler_steps_total");
        double stepSeconds = value(scrapeAfter, "kvlab_scheduler_step_seconds_sum")
                - value(scrapeBefore, "kvlab_scheduler_step_seconds_sum");
        double stepTokens = value(scrapeAfter, "kvlab_batch_tokens_sum") - value(scrapeBefore, "kvlab_batch_tokens_sum");
        batches.replaceAll((le, count) -> count - batchesBefore.getOrDefault(le, 0.0));
        System.out.printf(Locale.ROOT, "%7d | %8d | %11.1f | %11.1f | %30.1f | %15.1f | %s | %.2f | %.1f%s%n", clients,
                all.size(),
                percentile(ok.stream().mapToDouble(Sample::ttftMs).toArray(), 50),
                percentile(ok.stream().mapToDouble(Sample::ttftMs).toArray(), 90),
                percentile(ok.stream().mapToDouble(Sample::decodeTokensPerSecond).toArray(), 50),
                tokens / wallSeconds, bucketPercentile(batches, 50) + " / " + bucketPercentile(batches, 90) + " / "
                        + bucketPercentile(batches, 100),
                steps > 0 ? 1000 * stepSeconds / steps : Double.NaN, steps > 0 ? stepTokens / steps : Double.NaN,
                ok.size() == all.size() ? "" : "  (" + (all.size() - ok.size()) + " failed)");
    }

    private static final Pattern BATCH_BUCKET = Pattern.compile("^kvlab_batch_size_bucket\\{.*le=\"([^\"]+)\".*\\} (\\S+)$");

    /** The server's {@code /actuator/prometheus} text, empty when not exposed. */
    private static String scrape(String url, Options o) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url + "/actuator/prometheus"))
                .timeout(Duration.ofSeconds(30));
        if (o.key() != null) {
            request.header("Authorization", "Bearer " + o.key());
        }
        HttpResponse<String> r = CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode() == 200 ? r.body() : "";
    }

    /** The value of an unlabelled series in a scrape, NaN when absent. */
    private static double value(String scrape, String series) {
        for (String line : scrape.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        return Double.NaN;
    }

    /**
     * The cumulative {@code kvlab_batch_size} histogram (sequences per scheduler step) of a scrape:
     * upper bound to count of steps at or below it.
     */
    private static TreeMap<Double, Double> batchSizeBuckets(String scrape) {
        TreeMap<Double, Double> buckets = new TreeMap<>();
        for (String line : scrape.split("\n")) {
            Matcher m = BATCH_BUCKET.matcher(line);
            if (m.matches()) {
                double le = m.group(1).equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(m.group(1));
                buckets.merge(le, Double.parseDouble(m.group(2)), Double::sum);
            }
        }
        return buckets;
    }

    /** The smallest bucket bound holding at least p % of the steps, "-" without steps. */
    private static String bucketPercentile(TreeMap<Double, Double> cumulative, int p) {
        double total = cumulative.isEmpty() ? 0 : cumulative.lastEntry().getValue();
        if (total <= 0) {
            return "-";
        }
        for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
            if (e.getValue() >= p / 100.0 * total - 1e-9) {
                return e.getKey().isInfinite() ? "+Inf" : String.valueOf(e.getKey().intValue());
            }
        }
        return "+Inf";
    }

    private static Sample once(String url, Options o) throws IOException, InterruptedException {
        String kv = o.policy().equals("full") ? "{\"policy\": \"full\"}"
                : "{\"policy\": \"" + o.policy() + "\", \"budget\": " + o.budget() + "}";
        String body = "{\"prompt\": \"" + o.prompt().replace("\\", "\\\\").replace("\"", "\\\"") + "\", "
                + "\"max_new_tokens\": " + o.newTokens() + ", \"temperature\": 0.8, \"seed\": 1, \"stream\": true, "
                + "\"kv_cache\": " + kv + "}";
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url + "/generate"))
                .timeout(Duration.ofMinutes(10))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (o.key() != null) {
            request.header("Authorization", "Bearer " + o.key());
        }
        long sent = System.nanoTime();
        HttpResponse<InputStream> r = CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        long first = 0;
        long last = 0;
        int tokens = 0;
        boolean done = false;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (line.startsWith("event:token") || line.startsWith("event: token")) {
                    long now = System.nanoTime();
                    if (first == 0) {
                        first = now;
                    }
                    last = now;
                    tokens++;
                } else if (line.startsWith("event:done") || line.startsWith("event: done")) {
                    done = true;
                }
            }
        }
        if (r.statusCode() != 200 || !done || first == 0) {
            return new Sample(0, 0, 0, false);
        }
        double decodeSeconds = (last - first) / 1e9;
        return new Sample((first - sent) / 1e6, decodeSeconds > 0 ? (tokens - 1) / decodeSeconds : 0, tokens, true);
    }

    private static double percentile(double[] values, int p) {
        if (values.length == 0) {
            return Double.NaN;
        }
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
    }

    private static Options parse(String[] args) {
        String url = "http://localhost:8080";
        Path model = null;
        boolean fixture = false;
        String key = System.getenv("KVLAB_SECURITY_APIKEY");
        int newTokens = 64;
        int requests = 4;
        int[] levels = {1, 2, 8};
        String prompt = "It is a truth universally acknowledged, that a single man in possession of a good fortune,"
                + " must be in want of a wife.";
        String policy = "full";
        int budget = 256;
        int warmup = 2;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--url" -> url = args[++i];
                case "--model" -> model = Path.of(args[++i]);
                case "--fixture" -> fixture = true;
                case "--key" -> key = args[++i];
                case "--new" -> newTokens = Integer.parseInt(args[++i]);
                case "--requests" -> requests = Integer.parseInt(args[++i]);
                case "--levels" -> levels = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--prompt" -> prompt = args[++i];
                case "--policy" -> policy = args[++i];
                case "--budget" -> budget = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        return new Options(url, model, fixture, key, newTokens, requests, levels, prompt, policy, budget, warmup);
    }
}
