package dev.kvlab.serving.web;

import dev.kvlab.config.KvlabProperties;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;
import tools.jackson.databind.json.JsonMapper;

/**
 * The optional API key ({@code kvlab.security.api-key}): when set, every request but the probes
 * ({@code /actuator/health…}), the metrics scrape ({@code /actuator/prometheus}) and GETs of the web
 * console's static files ({@code /}, {@code /index.html}, {@code /favicon.ico}, {@code /console/…},
 * {@code /webjars/…}; they hold no data: the console asks for the key and sends it with every data
 * request) must carry {@code Authorization: Bearer <key>}, as OpenAI clients send it; others get 401 problem+json with
 * {@code WWW-Authenticate}. Paths are compared after the container has decoded and normalized them.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 10)
public class ApiKeyFilter extends OncePerRequestFilter {

    private static final String BEARER = "Bearer ";

    private final byte[] key;
    private final FilterProblems problems;

    ApiKeyFilter(KvlabProperties properties, JsonMapper json) {
        String apiKey = properties.security().apiKey();
        this.key = apiKey == null ? null : apiKey.getBytes(StandardCharsets.UTF_8);
        this.problems = new FilterProblems(json);
    }

    static boolean isOpen(String path) {
        return path.equals("/actuator/health") || path.startsWith("/actuator/health/")
                || path.equals("/actuator/prometheus");
    }

    /** The console's page and static files. */
    static boolean isConsoleAsset(String path) {
        return path.equals("/") || path.equals("/index.html") || path.equals("/favicon.ico")
                || path.startsWith("/console/") || path.startsWith("/webjars/");
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String path = path(request);
        boolean read = request.getMethod().equals("GET") || request.getMethod().equals("HEAD");
        return key == null || isOpen(path) || read && isConsoleAsset(path);
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        String header = request.getHeader(HttpHeaders.AUTHORIZATION);
        boolean given = header != null && header.regionMatches(true, 0, BEARER, 0, BEARER.length());
        if (given && MessageDigest.isEqual(key,
                header.substring(BEARER.length()).trim().getBytes(StandardCharsets.UTF_8))) {
            chain.doFilter(request, response);
            return;
        }
        response.setHeader(HttpHeaders.WWW_AUTHENTICATE,
                given ? "Bearer realm=\"kvlab\", error=\"invalid_token\"" : "Bearer realm=\"kvlab\"");
        problems.write(request, response, ApiException.problem(HttpStatus.UNAUTHORIZED, null, given
                ? "the API key is not valid" : "this server needs an API key: send Authorization: Bearer <key>"));
    }

    private static String path(HttpServletRequest request) {
        String path = request.getServletPath() + (request.getPathInfo() == null ? "" : request.getPathInfo());
        return path.isEmpty() ? "/" : path;
    }
}
