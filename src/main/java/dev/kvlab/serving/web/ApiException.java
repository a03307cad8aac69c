package dev.kvlab.serving.web;

import java.time.Duration;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.web.ErrorResponseException;

/**
 * A request the server refuses, answered as RFC 9457 {@code application/problem+json}. The offending
 * request field, when there is one, is both the {@code field} property of the problem and the start
 * of its {@code detail} ({@code "max_new_tokens: must be …"}), so people and programs both find it.
 */
public class ApiException extends ErrorResponseException {

    private static final long serialVersionUID = 1L;

    /** The problem property that names the request field at fault. */
    public static final String FIELD = "field";

    private ApiException(HttpStatus status, String field, String detail, Throwable cause) {
        super(status, problem(status, field, detail), cause);
    }

    /** A problem body naming {@code field} (when non-null) in its {@code field} property and its detail. */
    public static ProblemDetail problem(HttpStatus status, String field, String detail) {
        String text = field == null ? detail : field + ": " + detail;
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(status, text);
        if (field != null) {
            problem.setProperty(FIELD, field);
        }
        return problem;
    }

    /** 400: a field has a value the server cannot use. */
    public static ApiException badRequest(String field, String detail) {
        return new ApiException(HttpStatus.BAD_REQUEST, field, detail, null);
    }

    /** 404: the request names something (a model, a resource) this server does not have. */
    public static ApiException notFound(String field, String detail) {
        return new ApiException(HttpStatus.NOT_FOUND, field, detail, null);
    }

    /** 413: the input is larger than the server or the model allows. */
    public static ApiException tooLarge(String field, String detail, Throwable cause) {
        return new ApiException(HttpStatus.CONTENT_TOO_LARGE, field, detail, cause);
    }

    /** 429 with {@code Retry-After}: every slot is busy and the queue is full. */
    public static ApiException queueFull(String detail, Duration retryAfter) {
        ApiException e = new ApiException(HttpStatus.TOO_MANY_REQUESTS, null, detail, null);
        e.getHeaders().set(HttpHeaders.RETRY_AFTER, Long.toString(Math.max(1, retryAfter.toSeconds())));
        return e;
    }

    /** 503: the server cannot serve the request now (shutting down, request cancelled). */
    public static ApiException unavailable(String detail, Throwable cause) {
        return new ApiException(HttpStatus.SERVICE_UNAVAILABLE, null, detail, cause);
    }

    /** 507: the request would not fit in the device's memory. */
    public static ApiException insufficientMemory(String detail, Throwable cause) {
        return new ApiException(HttpStatus.INSUFFICIENT_STORAGE, null, detail, cause);
    }

    /** 500: a server fault; the detail must not reveal internals. */
    public static ApiException internal(String detail, Throwable cause) {
        return new ApiException(HttpStatus.INTERNAL_SERVER_ERROR, null, detail, cause);
    }

    /** Adds a property to the problem body (figures a client can act on), returning this exception. */
    public ApiException with(String property, Object value) {
        getBody().setProperty(property, value);
        return this;
    }
}
