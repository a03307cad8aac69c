package dev.kvlab.generation;

/** Why a generation ended, under the names the HTTP API reports in {@code finish_reason}. */
public enum FinishReason {
    /** {@code max_new_tokens} was reached. */
    LENGTH("length"),
    /** A stop string was produced (and left out of the text). */
    STOP("stop"),
    /** The model produced its end-of-sequence token. */
    EOS("eos");

    private final String apiName;

    FinishReason(String apiName) {
        this.apiName = apiName;
    }

    /** The lower-case name used in JSON responses. */
    public String apiName() {
        return apiName;
    }
}
