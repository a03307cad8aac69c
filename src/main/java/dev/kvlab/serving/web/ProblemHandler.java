package dev.kvlab.serving.web;

import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.ServletWebRequest;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.servlet.NoHandlerFoundException;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;
import org.springframework.web.servlet.resource.NoResourceFoundException;
import tools.jackson.core.JacksonException;
import tools.jackson.core.exc.InputCoercionException;
import tools.jackson.core.exc.StreamReadException;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.exc.UnrecognizedPropertyException;

/**
 * Turns every failure into RFC 9457 {@code application/problem+json}. Spring's own errors (404, 405,
 * 415, …) come from the base class; unreadable bodies are diagnosed here down to the JSON field at
 * fault; anything unexpected is a logged 500 that shows the client nothing internal.
 */
@RestControllerAdvice
public class ProblemHandler extends ResponseEntityExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(ProblemHandler.class);

    private static final Map<Class<?>, String> JSON_TYPES = Map.of(
            Integer.class, "an integer", Long.class, "an integer", Double.class, "a number",
            String.class, "a string", Boolean.class, "true or false", List.class, "a list",
            Map.class, "an object");

    @Override
    protected ResponseEntity<Object> handleHttpMessageNotReadable(HttpMessageNotReadableException ex,
            HttpHeaders headers, HttpStatusCode status, WebRequest request) {
        BodySizeFilter.BodyTooLargeException tooLarge = BodySizeFilter.tooLarge(ex);
        if (tooLarge != null) {
            return handleExceptionInternal(ex, tooLarge.problem(), headers, HttpStatus.CONTENT_TOO_LARGE, request);
        }
        return handleExceptionInternal(ex, describe(ex), headers, status, request);
    }

    /** Every problem on {@code /v1} also carries OpenAI's {@code error} object, which OpenAI SDKs show. */
    @Override
    protected ResponseEntity<Object> handleExceptionInternal(Exception ex, Object body, HttpHeaders headers,
            HttpStatusCode statusCode, WebRequest request) {
        ResponseEntity<Object> response = super.handleExceptionInternal(ex, body, headers, statusCode, request);
        if (response != null && response.getBody() instanceof ProblemDetail problem
                && request instanceof ServletWebRequest servlet
                && Problems.isOpenAi(servlet.getRequest().getServletPath())) {
            Problems.withOpenAiError(problem);
        }
        return response;
    }

    @Override
    protected ResponseEntity<Object> handleNoResourceFoundException(NoResourceFoundException ex, HttpHeaders headers,
            HttpStatusCode status, WebRequest request) {
        ProblemDetail body = ProblemDetail.forStatusAndDetail(status,
                "no endpoint " + ex.getHttpMethod() + " /" + ex.getResourcePath());
        return handleExceptionInternal(ex, body, headers, status, request);
    }

    @Override
    protected ResponseEntity<Object> handleNoHandlerFoundException(NoHandlerFoundException ex, HttpHeaders headers,
            HttpStatusCode status, WebRequest request) {
        ProblemDetail body = ProblemDetail.forStatusAndDetail(status,
                "no endpoint " + ex.getHttpMethod() + " " + ex.getRequestURL());
        return handleExceptionInternal(ex, body, headers, status, request);
    }

    /** The last resort: a server fault, logged with its stack, answered without internals. */
    @ExceptionHandler(Exception.class)
    ResponseEntity<Object> handleUnexpected(Exception ex, WebRequest request) {
        BodySizeFilter.BodyTooLargeException tooLarge = BodySizeFilter.tooLarge(ex);
        if (tooLarge != null) {
            return handleExceptionInternal(ex, tooLarge.problem(), new HttpHeaders(), HttpStatus.CONTENT_TOO_LARGE,
                    request);
        }
        log.error("Unexpected failure serving {}", request.getDescription(false), ex);
        ProblemDetail body = ProblemDetail.forStatusAndDetail(HttpStatus.INTERNAL_SERVER_ERROR,
                "internal error; the server log has the details");
        return handleExceptionInternal(ex, body, new HttpHeaders(), HttpStatus.INTERNAL_SERVER_ERROR, request);
    }

    /** A 400 that names what is wrong with the body: the field with the wrong type, or bad JSON. */
    static ProblemDetail describe(HttpMessageNotReadableException ex) {
        Throwable cause = ex.getCause();
        if (cause instanceof UnrecognizedPropertyException unknown) {
            String field = path(unknown);
            TreeSet<String> known = new TreeSet<>();
            unknown.getKnownPropertyIds().forEach(id -> known.add(String.valueOf(id)));
            return ApiException.problem(HttpStatus.BAD_REQUEST, field,
                    "unknown field; known fields: " + String.join(", ", known));
        }
        if (cause instanceof MismatchedInputException mismatch) {
            String field = path(mismatch);
            if (field.isEmpty()) {
                return ApiException.problem(HttpStatus.BAD_REQUEST, null, "the request body must be a JSON object");
            }
            String expected = JSON_TYPES.get(mismatch.getTargetType());
            return ApiException.problem(HttpStatus.BAD_REQUEST, field,
                    expected == null ? "has the wrong type: " + mismatch.getOriginalMessage() : "must be " + expected);
        }
        if (cause instanceof InputCoercionException outOfRange && !path(outOfRange).isEmpty()) {
            return ApiException.problem(HttpStatus.BAD_REQUEST, path(outOfRange),
                    "is out of range: " + outOfRange.getOriginalMessage());
        }
        if (cause instanceof StreamReadException malformed) {
            return ApiException.problem(HttpStatus.BAD_REQUEST, null,
                    "the request body is not valid JSON: " + malformed.getOriginalMessage() + where(malformed));
        }
        if (cause instanceof JacksonException other && !path(other).isEmpty()) {
            return ApiException.problem(HttpStatus.BAD_REQUEST, path(other), other.getOriginalMessage());
        }
        return ApiException.problem(HttpStatus.BAD_REQUEST, null,
                "the request body is missing or is not a JSON object");
    }

    /** The JSON path of the failure as a client writes it: {@code kv_cache.budget}, {@code stop[1]}. */
    static String path(JacksonException e) {
        StringBuilder path = new StringBuilder();
        for (JacksonException.Reference ref : e.getPath()) {
            if (ref.getPropertyName() != null) {
                path.append(path.isEmpty() ? "" : ".").append(ref.getPropertyName());
            } else if (ref.getIndex() >= 0) {
                path.append('[').append(ref.getIndex()).append(']');
            }
        }
        return path.toString();
    }

    private static String where(JacksonException e) {
        return e.getLocation() == null ? ""
                : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
    }
}
