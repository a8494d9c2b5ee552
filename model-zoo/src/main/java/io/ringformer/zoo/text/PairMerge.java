package io.ringformer.zoo.text;

/**
 * The step both merge trainers (BPE's and WordPiece's) take on one word: a word is an array of symbol ids of which
 * the first {@code length} are live, and merging the pair (left, right) into {@code id} rewrites it in place.
 */
final class PairMerge {

    private PairMerge() {}

    /** Whether the first {@code length} symbols hold {@code left} immediately followed by {@code right}. */
    static boolean holds(int[] symbols, int length, int left, int right) {
        for (int i = 0; i + 1 < length; i++) {
            if (symbols[i] == left && symbols[i + 1] == right) {
                return true;
            }
        }
        return false;
    }

    /** Replaces each (left, right), left to right without overlaps, by {@code id}; returns the new length. */
    static int merge(int[] symbols, int length, int left, int right, int id) {
        int merged = 0;
        for (int i = 0; i < length; i++) {
            if (i + 1 < length && symbols[i] == left && symbols[i + 1] == right) {
                symbols[merged++] = id;
                i++;
            } else {
                symbols[merged++] = symbols[i];
            }
        }
        return merged;
    }
}
