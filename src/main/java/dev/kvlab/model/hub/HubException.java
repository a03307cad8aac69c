package dev.kvlab.model.hub;

/**
 * A model could not be fetched from the Hugging Face Hub. The message says what to do about it;
 * {@link #reason()} tells the kinds of failure apart for callers and tests.
 */
public class HubException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** What went wrong, by what the operator has to fix. */
    public enum Reason {
        /** The endpoint could not be reached: no network, DNS, proxy, or a timeout. */
        NETWORK,
        /** 401 or 403: a gated or private repo, a missing or rejected {@code HF_TOKEN}. */
        AUTHENTICATION,
        /** 404: the repo, the revision or a required file does not exist. */
        NOT_FOUND,
        /** The cache folder's disk is full (or would be: the free space was checked first). */
        DISK_FULL,
        /** The cache folder cannot be created or written for another reason. */
        STORAGE,
        /** A file arrived shorter or longer than announced; a shorter one resumes on the next try. */
        INCOMPLETE,
        /** The endpoint answered something unusable: a 5xx, a bad redirect, a malformed shard index. */
        PROTOCOL
    }

    private final Reason reason;

    public HubException(Reason reason, String message) {
        this(reason, message, null);
    }

    public HubException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
