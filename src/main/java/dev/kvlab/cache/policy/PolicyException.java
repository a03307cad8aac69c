package dev.kvlab.cache.policy;

/**
 * A {@code kv_cache} object that names an unknown policy or gives a parameter the policy does not
 * take or cannot use. {@link #field()} is the offending key relative to that object ({@code policy},
 * {@code budget}, …), so each caller can prefix it with where the object sat in its request.
 */
public class PolicyException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final String field;

    public PolicyException(String field, String message) {
        super(message);
        this.field = field;
    }

    /** The key inside the {@code kv_cache} object at fault, e.g. {@code policy} or {@code budget}. */
    public String field() {
        return field;
    }
}
