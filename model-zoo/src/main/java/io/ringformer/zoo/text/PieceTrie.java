package io.ringformer.zoo.text;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The pieces of a vocabulary in a trie over UTF-16 chars, for the one query a unigram lattice needs: every piece that
 * starts at a given position of a word, shortest first (the order Hugging Face's {@code common_prefix_search}
 * yields them, which decides ties in the Viterbi search).
 */
final class PieceTrie {

    private final Map<Long, Integer> children = new HashMap<>(); // (node << 16 | char) → child node
    private int[] pieceAtNode = new int[64];                     // the piece id ending at a node, or −1
    private int nodes = 1;                                       // node 0 is the root
    private int longestPiece;                                    // in chars

    /** {@code pieces.get(id)} becomes findable as id; null or empty entries are skipped. */
    PieceTrie(List<String> pieces) {
        pieceAtNode[0] = -1;
        for (int id = 0; id < pieces.size(); id++) {
            String piece = pieces.get(id);
            if (piece == null || piece.isEmpty()) {
                continue;
            }
            longestPiece = Math.max(longestPiece, piece.length());
            int node = 0;
            for (int i = 0; i < piece.length(); i++) {
                long key = (long) node << 16 | piece.charAt(i);
                Integer child = children.get(key);
                if (child == null) {
                    child = newNode();
                    children.put(key, child);
                }
                node = child;
            }
            if (pieceAtNode[node] < 0) {     // a duplicate string keeps its first id (our vocabularies have none)
                pieceAtNode[node] = id;
            }
        }
    }

    private int newNode() {
        if (nodes == pieceAtNode.length) {
            pieceAtNode = java.util.Arrays.copyOf(pieceAtNode, nodes * 2);
        }
        pieceAtNode[nodes] = -1;
        return nodes++;
    }

    /** The length in chars of the longest piece: the most {@link #prefixes} can return. */
    int longestPiece() {
        return longestPiece;
    }

    /**
     * Writes every piece that {@code word} has at {@code from}, shortest first: its id to {@code ids} and its end
     * (exclusive, a char index) to {@code ends}. Returns how many; the arrays must hold the longest piece's length.
     */
    int prefixes(String word, int from, int[] ids, int[] ends) {
        int count = 0;
        int node = 0;
        for (int i = from; i < word.length(); i++) {
            Integer child = children.get((long) node << 16 | word.charAt(i));
            if (child == null) {
                break;
            }
            node = child;
            if (pieceAtNode[node] >= 0) {
                ids[count] = pieceAtNode[node];
                ends[count] = i + 1;
                count++;
            }
        }
        return count;
    }
}
