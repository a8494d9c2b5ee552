package io.ringformer.protocol;

/**
 * The rows {@code [first, first + count)} of the global batch that one rank trains on.
 *
 * <p>JSON: {@code {"first":0,"count":4}}
 */
public record Shard(int first, int count) {

    public Shard {
        if (first < 0 || count < 1 || count > Integer.MAX_VALUE - first) {
            throw new IllegalArgumentException("a shard needs first ≥ 0, count ≥ 1 and first + count ≤ 2^31 - 1, "
                    + "got first " + first + ", count " + count);
        }
    }

    /** One past the last row. */
    public int end() {
        return first + count;
    }
}
