package dev.kvlab.model.hub;

import dev.kvlab.model.hub.HubException.Reason;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Turns what went wrong into a {@link HubException} that says what to do: the Hub's status and
 * {@code X-Error-Code} ({@code GatedRepo}, {@code RepoNotFound}, {@code RevisionNotFound}, {@code
 * EntryNotFound}, as its own client reads them), and local write failures (a full disk named as such).
 */
final class HubErrors {

    private HubErrors() {}

    static HubException writeError(Path file, String label, long written, long expected, IOException e) {
        if (isDiskFull(e)) {
            return new HubException(Reason.DISK_FULL, "no space left on the device writing " + file + " (" + written
                    + " of " + (expected < 0 ? "?" : expected) + " bytes of " + label + "): free some space or point"
                    + " kvlab.model.cache-dir (KVLAB_MODEL_CACHEDIR) at a larger disk; the next start resumes", e);
        }
        return new HubException(Reason.STORAGE, "cannot write " + file + ": " + describe(e), e);
    }

    static boolean isDiskFull(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
            if (message.contains("no space left") || message.contains("disk quota exceeded")) {
                return true;
            }
        }
        return false;
    }

    static HubException statusError(int status, HttpHeaders headers, URI endpoint, boolean hasToken, String repo,
            String revision, String file) {
        String code = headers.firstValue("X-Error-Code").orElse("");
        String hubSays = headers.firstValue("X-Error-Message").map(m -> " The Hub says: " + m).orElse("");
        String what = repo + "/" + file + " (revision " + revision + ") from " + endpoint;
        String idHint = " Check kvlab.model.id (KVLAB_MODEL_ID).";
        String tokenHint = !hasToken ? " HF_TOKEN is not set: set it to a token of an account with access."
                : " The HF_TOKEN given has no access: accept the model's terms on its Hub page with that account.";
        return switch (code) {
            case "GatedRepo" -> new HubException(Reason.AUTHENTICATION,
                    repo + " is a gated model (HTTP " + status + " for " + what + ")." + tokenHint + hubSays);
            case "RepoNotFound" -> new HubException(Reason.NOT_FOUND, "no model repo " + repo + " at " + endpoint
                    + " (HTTP " + status + ")." + idHint + (!hasToken ? " A private repo needs HF_TOKEN." : "")
                    + hubSays);
            case "RevisionNotFound" -> new HubException(Reason.NOT_FOUND,
                    repo + " has no revision " + revision + " (HTTP " + status + ")." + hubSays);
            case "EntryNotFound" -> new HubException(Reason.NOT_FOUND,
                    repo + " has no file " + file + " at revision " + revision + "." + hubSays);
            default -> switch (status) {
                case 401 -> new HubException(Reason.AUTHENTICATION, !hasToken
                        ? "HTTP 401 for " + what + ": the repo is gated or private." + tokenHint + hubSays
                        : "HTTP 401 for " + what + ": HF_TOKEN was rejected (invalid or expired)." + hubSays);
                case 403 -> new HubException(Reason.AUTHENTICATION,
                        "HTTP 403 for " + what + ": access denied." + tokenHint + hubSays);
                case 404 -> new HubException(Reason.NOT_FOUND, "HTTP 404 for " + what
                        + ": the repo, the revision or the file does not exist." + idHint + hubSays);
                case 429 -> new HubException(Reason.PROTOCOL, "HTTP 429 for " + what
                        + ": rate limited; start again later (HF_TOKEN raises the limit)." + hubSays);
                default -> new HubException(Reason.PROTOCOL, "HTTP " + status + " for " + what + "." + hubSays);
            };
        };
    }

    /** The exception and its causes in one line: JDK network errors often carry the reason only in the cause. */
    static String describe(Throwable e) {
        StringBuilder s = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (s.length() > 0) {
                s.append(": ");
            }
            s.append(t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName());
        }
        return s.toString();
    }
}
