package dev.kvlab.serving.web;

import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;

/**
 * Problem bodies outside Spring's own error handling (SSE {@code error} events, servlet filters), and
 * the OpenAI-style {@code error} member added to problems on {@code /v1}, so OpenAI SDKs, which read
 * {@code error.message}, show the client what went wrong. The body stays RFC 9457 problem+json.
 */
public final class Problems {

    /** The prefix of the OpenAI-compatible endpoints. */
    static final String OPENAI_PREFIX = "/v1/";

    private Problems() {}

    /** The problem as a JSON object: {@code type, title, status, detail, instance} and its properties. */
    public static Map<String, Object> toMap(ProblemDetail problem) {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("type", problem.getType() != null ? problem.getType().toString() : "about:blank");
        map.put("title", problem.getTitle() != null ? problem.getTitle() : title(problem.getStatus()));
        map.put("status", problem.getStatus());
        if (problem.getDetail() != null) {
            map.put("detail", problem.getDetail());
        }
        if (problem.getInstance() != null) {
            map.put("instance", problem.getInstance().toString());
        }
        if (problem.getProperties() != null) {
            map.putAll(problem.getProperties());
        }
        return map;
    }

    static boolean isOpenAi(String path) {
        return path != null && (path.startsWith(OPENAI_PREFIX) || path.equals("/v1"));
    }

    /** Adds {@code error: {message, type, param, code}} as OpenAI returns it. */
    public static ProblemDetail withOpenAiError(ProblemDetail problem) {
        Object field = problem.getProperties() == null ? null : problem.getProperties().get(ApiException.FIELD);
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("message", problem.getDetail() != null ? problem.getDetail() : title(problem.getStatus()));
        error.put("type", openAiType(problem.getStatus()));
        error.put("param", field);
        error.put("code", openAiCode(problem.getStatus(), field));
        problem.setProperty("error", error);
        return problem;
    }

    private static String openAiType(int status) {
        return switch (status) {
            case 401 -> "authentication_error";
            case 429 -> "rate_limit_error";
            case 507 -> "insufficient_memory";
            default -> status >= 500 ? "server_error" : "invalid_request_error";
        };
    }

    private static String openAiCode(int status, Object field) {
        return switch (status) {
            case 401 -> "invalid_api_key";
            case 404 -> "model".equals(field) ? "model_not_found" : "not_found";
            case 413 -> "prompt".equals(field) ? "context_length_exceeded" : null;
            case 429 -> "rate_limit_exceeded";
            case 507 -> "insufficient_memory";
            default -> null;
        };
    }

    private static String title(int status) {
        HttpStatus known = HttpStatus.resolve(status);
        return known != null ? known.getReasonPhrase() : "Error";
    }
}
