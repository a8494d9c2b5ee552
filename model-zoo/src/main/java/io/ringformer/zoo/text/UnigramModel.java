package io.ringformer.zoo.text;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Segments a word into the pieces of a unigram language model (Kudo 2018, "Subword Regularization"): the
 * segmentation with the highest total log-probability, found by Viterbi over the lattice of every piece that occurs
 * in the word. It reproduces Hugging Face's {@code Unigram} model ({@code encode_optimized}) exactly, ties included:
 * <ul>
 *   <li>positions are visited left to right, and at each the pieces starting there shortest first; a path replaces
 *       the best one ending at the same place only when its score is strictly higher;</li>
 *   <li>where no one-character piece starts, the character becomes {@code <unk>} with the score
 *       {@code min(score) − 10} (SentencePiece's penalty for unknown characters);</li>
 *   <li>adjacent {@code <unk>} characters are fused into one {@code <unk>}.</li>
 * </ul>
 */
final class UnigramModel {

    /** SentencePiece's and Hugging Face's {@code kUnkPenalty}. */
    static final double UNKNOWN_PENALTY = 10.0;

    private final List<String> pieces;   // index = id
    private final double[] scores;       // log-probabilities, index = id
    private final Map<String, Integer> ids;
    private final PieceTrie trie;
    private final double unknownScore;
    private final int unkId;

    UnigramModel(List<String> pieces, double[] scores, int unkId) {
        this.pieces = pieces;
        this.scores = scores;
        this.unkId = unkId;
        this.ids = new HashMap<>(pieces.size() * 2);
        for (int id = 0; id < pieces.size(); id++) {
            ids.putIfAbsent(pieces.get(id), id);
        }
        this.trie = new PieceTrie(pieces);
        this.unknownScore = Arrays.stream(scores).min().orElse(0) - UNKNOWN_PENALTY;
    }

    /** The ids of the best segmentation of {@code word}. */
    int[] encode(String word) {
        int n = word.length();
        double[] bestScore = new double[n + 1];  // of the best path ending at each char index
        int[] bestStart = new int[n + 1];        // where its last piece starts; −1: no path yet
        int[] bestId = new int[n + 1];           // its last piece
        Arrays.fill(bestStart, -1);
        int[] found = new int[Math.max(1, trie.longestPiece())];
        int[] ends = new int[found.length];
        for (int at = 0; at < n; ) {
            double tillHere = bestScore[at];
            int charLength = Character.charCount(word.codePointAt(at));
            boolean singleCharPiece = false;
            int count = trie.prefixes(word, at, found, ends);
            for (int k = 0; k < count; k++) {
                int end = ends[k];
                double candidate = scores[found[k]] + tillHere;
                if (bestStart[end] < 0 || candidate > bestScore[end]) {
                    bestScore[end] = candidate;
                    bestStart[end] = at;
                    bestId[end] = found[k];
                }
                singleCharPiece |= end - at == charLength;
            }
            if (!singleCharPiece) {
                int end = at + charLength;
                double candidate = unknownScore + tillHere;
                if (bestStart[end] < 0 || candidate > bestScore[end]) {
                    bestScore[end] = candidate;
                    bestStart[end] = at;
                    bestId[end] = unkId;
                }
            }
            at += charLength;
        }
        // Backtrack, fusing runs of unknown characters; then the strings become ids (an unknown string is <unk>).
        List<String> strings = new ArrayList<>();
        int unknownEnd = -1;                     // end of the run of <unk> being fused, or −1
        for (int end = n; end > 0; ) {
            int start = bestStart[end];
            if (bestId[end] == unkId) {
                if (unknownEnd < 0) {
                    unknownEnd = end;
                }
            } else {
                if (unknownEnd >= 0) {
                    strings.add(word.substring(end, unknownEnd));
                    unknownEnd = -1;
                }
                strings.add(word.substring(start, end));
            }
            end = start;
        }
        if (unknownEnd >= 0) {
            strings.add(word.substring(0, unknownEnd));
        }
        int[] out = new int[strings.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ids.getOrDefault(strings.get(out.length - 1 - i), unkId);
        }
        return out;
    }

    List<String> pieces() {
        return pieces;
    }

    double score(int id) {
        return scores[id];
    }
}
