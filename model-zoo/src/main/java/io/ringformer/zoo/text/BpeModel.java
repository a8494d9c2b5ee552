package io.ringformer.zoo.text;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Segments a word by byte-pair merges (Sennrich et al. 2016) over characters: start from the word's characters and
 * apply the learned merges, the earliest-learned first. It reproduces Hugging Face's {@code BPE} model
 * ({@code Word::merge_all}, no dropout, no continuing-subword prefix, no end-of-word suffix) exactly:
 * <ul>
 *   <li>a character not in the vocabulary is {@code <unk>}, and adjacent unknown characters fuse into one;</li>
 *   <li>candidate merges wait in a queue ordered by (rank, position); a popped merge whose pair has changed since
 *       it was queued is skipped; each merge queues the new pairs it forms with its neighbours.</li>
 * </ul>
 */
final class BpeModel {

    private final Map<String, Integer> ids;
    private final Map<Long, int[]> merges = new HashMap<>(); // (left, right) → {rank, merged id}
    private final int unkId;

    /** {@code merges} in rank order, each {left, right}; every part and every concatenation is in {@code ids}. */
    BpeModel(Map<String, Integer> ids, List<String[]> merges, int unkId) {
        this.ids = ids;
        this.unkId = unkId;
        for (int rank = 0; rank < merges.size(); rank++) {
            String[] merge = merges.get(rank);
            Integer left = ids.get(merge[0]);
            Integer right = ids.get(merge[1]);
            Integer merged = ids.get(merge[0] + merge[1]);
            if (left == null || right == null || merged == null) {
                throw new IllegalArgumentException("merge " + rank + " (" + merge[0] + " " + merge[1]
                        + ") names a token that is not in the vocabulary");
            }
            this.merges.put(key(left, right), new int[] {rank, merged});
        }
    }

    int[] encode(String word) {
        int n = word.codePointCount(0, word.length());
        int[] symbol = new int[n];               // token id; the symbols form a linked list
        int[] prev = new int[n];
        int[] next = new int[n];
        boolean[] removed = new boolean[n];
        int count = 0;
        boolean unknownOpen = false;             // the last symbol is an <unk> that may still grow
        for (int at = 0; at < word.length(); ) {
            int c = word.codePointAt(at);
            at += Character.charCount(c);
            Integer id = ids.get(Character.toString(c));
            if (id == null) {
                if (!unknownOpen) {
                    symbol[count++] = unkId;
                    unknownOpen = true;
                }
                continue;
            }
            symbol[count++] = id;
            unknownOpen = false;
        }
        for (int i = 0; i < count; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }
        // Each entry: {rank, position, merged id}; the lowest rank first, then the leftmost position.
        PriorityQueue<int[]> queue = new PriorityQueue<>((a, b) -> a[0] != b[0] ? Integer.compare(a[0], b[0])
                : Integer.compare(a[1], b[1]));
        for (int i = 0; i + 1 < count; i++) {
            offer(queue, i, symbol[i], symbol[i + 1]);
        }
        while (!queue.isEmpty()) {
            int[] top = queue.poll();
            int pos = top[1];
            if (removed[pos] || next[pos] < 0) {
                continue;
            }
            int right = next[pos];
            int[] merge = merges.get(key(symbol[pos], symbol[right]));
            if (merge == null || merge[1] != top[2]) {
                continue;                        // the pair changed since this entry was queued
            }
            symbol[pos] = top[2];
            removed[right] = true;
            next[pos] = next[right];
            if (next[pos] >= 0) {
                prev[next[pos]] = pos;
            }
            if (prev[pos] >= 0) {
                offer(queue, prev[pos], symbol[prev[pos]], symbol[pos]);
            }
            if (next[pos] >= 0) {
                offer(queue, pos, symbol[pos], symbol[next[pos]]);
            }
        }
        int[] out = new int[count];
        int length = 0;
        for (int i = 0; i < count; i++) {
            if (!removed[i]) {
                out[length++] = symbol[i];
            }
        }
        return java.util.Arrays.copyOf(out, length);
    }

    private void offer(PriorityQueue<int[]> queue, int pos, int left, int right) {
        int[] merge = merges.get(key(left, right));
        if (merge != null) {
            queue.add(new int[] {merge[0], pos, merge[1]});
        }
    }

    static long key(int left, int right) {
        return (long) left << 32 | (right & 0xFFFFFFFFL);
    }
}
