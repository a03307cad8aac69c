package dev.kvlab.serving.generate;

import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;

/**
 * Tells whether the client of an async request has hung up, without writing to the connection (so the
 * status is not committed). Once the request is in non-blocking mode (a {@link ReadListener} is set)
 * and its body has been read, Tomcat's {@link ServletInputStream#available()} tries a non-blocking read
 * of the socket, and a closed or reset connection shows as a byte available (Tomcat 11
 * {@code Http11InputBuffer.available(boolean)} turns the {@code EOFException} into 1). Bytes that really
 * arrived count as a hang-up too: a client must not pipeline a request behind a POST before its
 * response (RFC 9112 §9.3.2). A client that half-closes its side and still waits is taken for gone.
 */
public final class ConnectionProbe {

    /** Never called: the body has been read to its end, so Tomcat never registers for read. */
    private static final ReadListener UNUSED = new ReadListener() {
        @Override
        public void onDataAvailable() {}

        @Override
        public void onAllDataRead() {}

        @Override
        public void onError(Throwable t) {}
    };

    private final ServletRequest request;
    private ServletInputStream body;

    /** @param request the request, as the container made it or wrapped by filters */
    public ConnectionProbe(HttpServletRequest request) {
        ServletRequest r = request;
        while (r instanceof ServletRequestWrapper wrapper) {
            r = wrapper.getRequest(); // a filter's stream would not reach the socket
        }
        this.request = r;
    }

    /**
     * Whether the client is known to be gone; false until the request has gone async. Call only from
     * one thread at a time, and never once the response may be under way: the read touches Tomcat's
     * input buffer, which the container uses again when it finishes the request.
     *
     * @throws IllegalStateException when the connection cannot be probed (a body not read to its end)
     * @throws IOException when the request's stream is no longer usable
     */
    public boolean clientGone() throws IOException {
        if (body == null) {
            if (!request.isAsyncStarted()) {
                return false;
            }
            ServletInputStream in = request.getInputStream();
            if (!in.isFinished()) {
                throw new IllegalStateException("the request body has not been read to its end");
            }
            in.setReadListener(UNUSED);
            body = in;
        }
        return body.available() > 0;
    }
}
