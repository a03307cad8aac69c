package dev.kvlab.serving.web;

import dev.kvlab.config.KvlabProperties;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;
import tools.jackson.databind.json.JsonMapper;

/**
 * Refuses request bodies over {@code kvlab.serving.max-body-size} with 413 problem+json: at once when
 * {@code Content-Length} says so, else (chunked bodies) as soon as reading passes the limit, so a
 * client cannot make the server buffer an unbounded body.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 20)
public class BodySizeFilter extends OncePerRequestFilter {

    private final long maxBytes;
    private final FilterProblems problems;

    BodySizeFilter(KvlabProperties properties, JsonMapper json) {
        this.maxBytes = properties.serving().maxBodySize().toBytes();
        this.problems = new FilterProblems(json);
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        long length = request.getContentLengthLong();
        if (length > maxBytes) {
            problems.write(request, response, new BodyTooLargeException(maxBytes, length).problem());
            return;
        }
        chain.doFilter(length >= 0 ? request : new Limited(request, maxBytes), response);
    }

    /** The body-too-large failure somewhere in {@code failure}'s causes, or null. */
    static BodyTooLargeException tooLarge(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof BodyTooLargeException e) {
                return e;
            }
        }
        return null;
    }

    /** Thrown by the body stream past the limit; the problem handler turns it into 413. */
    static final class BodyTooLargeException extends IOException {
        private static final long serialVersionUID = 1L;
        private final long maxBytes;

        BodyTooLargeException(long maxBytes, long length) {
            super(length < 0 ? "the request body is larger than " + maxBytes + " bytes"
                    : "the request body is " + length + " bytes");
            this.maxBytes = maxBytes;
        }

        ProblemDetail problem() {
            return ApiException.problem(HttpStatus.CONTENT_TOO_LARGE, null, getMessage() + ", more than the " + maxBytes
                    + " allowed (kvlab.serving.max-body-size)");
        }
    }

    /** A request whose body stream fails once more than {@code maxBytes} have been read. */
    private static final class Limited extends HttpServletRequestWrapper {
        private final long maxBytes;
        private ServletInputStream stream;

        Limited(HttpServletRequest request, long maxBytes) {
            super(request);
            this.maxBytes = maxBytes;
        }

        @Override
        public ServletInputStream getInputStream() throws IOException {
            if (stream == null) {
                stream = new Counting(super.getInputStream(), maxBytes);
            }
            return stream;
        }

        @Override
        public BufferedReader getReader() throws IOException {
            String encoding = getCharacterEncoding();
            Charset charset = encoding == null ? StandardCharsets.UTF_8 : Charset.forName(encoding);
            return new BufferedReader(new InputStreamReader(getInputStream(), charset));
        }
    }

    private static final class Counting extends ServletInputStream {
        private final ServletInputStream in;
        private final long maxBytes;
        private long read;

        Counting(ServletInputStream in, long maxBytes) {
            this.in = in;
            this.maxBytes = maxBytes;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                count(1);
            }
            return b;
        }

        @Override
        public int read(byte[] buffer, int off, int len) throws IOException {
            int n = in.read(buffer, off, len);
            if (n > 0) {
                count(n);
            }
            return n;
        }

        private void count(int n) throws BodyTooLargeException {
            read += n;
            if (read > maxBytes) {
                throw new BodyTooLargeException(maxBytes, -1);
            }
        }

        @Override
        public boolean isFinished() {
            return in.isFinished();
        }

        @Override
        public boolean isReady() {
            return in.isReady();
        }

        @Override
        public void setReadListener(ReadListener listener) {
            in.setReadListener(listener);
        }
    }
}
