package io.ringformer.zoo.text;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeSet;

/**
 * Learns byte-pair merges over characters (Sennrich et al. 2016; SentencePiece's {@code --model_type=bpe}) on the
 * words of a text ({@link SentencePieceTokenizer#words}, each with its {@code ▁}, counted). The pieces start as
 * every character of the text, sorted by code point; then, until there are as many pieces as asked, the adjacent
 * pair seen most often (weighted by word counts; ties to the lower ids, left then right) is merged into a new piece
 * everywhere. A merge whose result is already a piece (made before from another split, {@code ab+c} and
 * {@code a+bc}) is recorded but adds no piece; pairs whose result would be longer than
 * {@value UnigramTrainer#MAX_PIECE_CHARS} characters are never merged. Pieces never cross a word boundary.
 *
 * <p>Pair counts are kept incrementally: a merge rewrites only the words that hold the pair (each pair knows its
 * words) and updates the counts of their pairs; a priority queue holds every count change, and a popped entry whose
 * count is no longer current is dropped.
 */
final class BpeTrainer {

    private final int targetPieces;
    private final List<String> pieces = new ArrayList<>();
    private final Map<String, Integer> ids = new HashMap<>();
    private final List<String[]> merges = new ArrayList<>();
    private final int[][] words;                 // each distinct word as piece ids; a merge shortens it
    private final int[] wordLength;
    private final long[] wordCount;
    private final Map<Long, Long> pairCounts = new HashMap<>();
    private final Map<Long, Set<Integer>> pairWords = new HashMap<>();
    /** {count, left, right}: the highest count first, then the lowest left id, then the lowest right id. */
    private final PriorityQueue<long[]> queue = new PriorityQueue<>((a, b) -> a[0] != b[0] ? Long.compare(b[0], a[0])
            : a[1] != b[1] ? Long.compare(a[1], b[1]) : Long.compare(a[2], b[2]));

    BpeTrainer(Map<String, Long> wordCounts, int targetPieces) {
        this.targetPieces = targetPieces;
        List<String> distinct = wordCounts.keySet().stream().sorted().toList(); // HashMap order must not matter
        TreeSet<Integer> alphabet = new TreeSet<>();
        distinct.forEach(word -> word.codePoints().forEach(alphabet::add));
        alphabet.forEach(c -> addPiece(Character.toString(c)));
        words = new int[distinct.size()][];
        wordLength = new int[distinct.size()];
        wordCount = new long[distinct.size()];
        for (int w = 0; w < words.length; w++) {
            String word = distinct.get(w);
            words[w] = word.codePoints().map(c -> ids.get(Character.toString(c))).toArray();
            wordLength[w] = words[w].length;
            wordCount[w] = wordCounts.get(word);
            countPairs(w, +1);
        }
    }

    BpeTrainer train() {
        while (pieces.size() < targetPieces && !queue.isEmpty()) {
            long[] top = queue.poll();
            long key = BpeModel.key((int) top[1], (int) top[2]);
            if (pairCounts.getOrDefault(key, 0L) != top[0] || top[0] <= 0) {
                continue;                        // a stale entry: the pair's count changed since
            }
            String merged = pieces.get((int) top[1]) + pieces.get((int) top[2]);
            if (merged.codePointCount(0, merged.length()) > UnigramTrainer.MAX_PIECE_CHARS) {
                continue;
            }
            merge((int) top[1], (int) top[2], merged);
        }
        return this;
    }

    /** The tokenizer of the learned pieces and merges, with {@code sentinels} sentinels at the end. */
    SentencePieceTokenizer tokenizer(int sentinels) {
        return new SentencePieceTokenizer(SentencePieceTokenizer.Kind.BPE,
                SentencePieceTokenizer.vocabulary(pieces, sentinels), null, merges, sentinels);
    }

    /** Replaces every (left, right) in the words holding it with the merged piece. */
    private void merge(int left, int right, String merged) {
        Integer existing = ids.get(merged);
        int id = existing != null ? existing : addPiece(merged);
        merges.add(new String[] {pieces.get(left), pieces.get(right)});
        long key = BpeModel.key(left, right);
        for (int w : pairWords.get(key).toArray(Integer[]::new)) {
            if (!PairMerge.holds(words[w], wordLength[w], left, right)) {
                continue;                        // the pair left this word in an earlier merge
            }
            countPairs(w, -1);
            wordLength[w] = PairMerge.merge(words[w], wordLength[w], left, right, id);
            countPairs(w, +1);
        }
    }

    /** Adds (sign +1) or removes (−1) the pairs of word {@code w}, queueing each changed count. */
    private void countPairs(int w, int sign) {
        Set<Long> changed = new HashSet<>();
        for (int i = 0; i + 1 < wordLength[w]; i++) {
            long key = BpeModel.key(words[w][i], words[w][i + 1]);
            pairCounts.merge(key, sign * wordCount[w], Long::sum);
            if (sign > 0) {
                pairWords.computeIfAbsent(key, k -> new HashSet<>()).add(w);
            }
            changed.add(key);
        }
        for (long key : changed) {
            queue.add(new long[] {pairCounts.get(key), key >>> 32, key & 0xFFFFFFFFL});
        }
    }

    private int addPiece(String piece) {
        int id = pieces.size();
        pieces.add(piece);
        ids.put(piece, id);
        return id;
    }
}
