package io.ringformer.zoo.text;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Trains a unigram language model over subword pieces the way SentencePiece does (Kudo 2018, "Subword
 * Regularization", §3.2; SentencePiece's {@code unigram_model_trainer.cc}), on the words of a text
 * ({@link SentencePieceTokenizer#words}, each with its {@code ▁}, counted):
 * <ol>
 *   <li>Seed: every substring of every word of up to {@value #MAX_PIECE_CHARS} characters that occurs at least
 *       twice, the {@value #SEED_PIECES} with the largest frequency × length kept, plus every character (the
 *       characters are never dropped, so every word of the training text stays encodable). A piece's first score is
 *       log(frequency / total).</li>
 *   <li>EM, {@value #EM_ITERATIONS} iterations: the E step runs forward–backward over each word's lattice of pieces
 *       and adds up each piece's expected count (weighted by the word's count); the M step sets each score to
 *       log(expected count / sum of expected counts). The loss is the negative log-likelihood of the words per
 *       word, −Σ count·log P(word) / Σ count, where P(word) sums over all its segmentations; EM never increases it
 *       on a fixed vocabulary ({@link #history} keeps it). SentencePiece's M step uses digamma(count) instead of
 *       log(count) (a sparse prior) and drops rare pieces inside the M step; we keep plain maximum likelihood so
 *       that guarantee holds, and drop pieces only in the pruning step.</li>
 *   <li>Prune, unless the vocabulary is already within 10% of the target: Viterbi-segment every word, count
 *       each piece's uses F. A piece never used goes first. For a used piece, its loss is how much the
 *       likelihood falls if it is removed and each of its uses is re-segmented into its best split without it:
 *       F · (log p(piece) − Σ log p'(alternative)), where p' gives each alternative piece F more uses. Keep the
 *       characters and the pieces of largest loss, max(target × 1.1, 0.75 × size) in all. Back to EM.</li>
 *   <li>Finally keep the characters and the pieces with the highest scores, exactly the target count, and run EM
 *       once more so the scores are log-probabilities over the final vocabulary. Scores are rounded to 6 decimals:
 *       a short decimal parses to the same double in Java and in Rust's JSON reader, so the Viterbi ties come out
 *       the same in Hugging Face.</li>
 * </ol>
 */
final class UnigramTrainer {

    /** SentencePiece's {@code max_sentencepiece_length}, in code points. */
    static final int MAX_PIECE_CHARS = 16;
    static final int SEED_PIECES = 300_000;
    static final int EM_ITERATIONS = 2;
    static final double SHRINKING_FACTOR = 0.75;
    /** Pruning stops within this factor of the target; the last step picks the target count by score. */
    static final double PRUNE_SLACK = 1.1;

    /** One EM iteration: its pruning round (0 first; the final EM after the last selection is the last round). */
    record EmStep(int round, int iteration, int pieces, double loss) {}

    private final String[] words;
    private final long[] wordCounts;
    private final int targetPieces;
    private final List<EmStep> history = new ArrayList<>();
    private List<String> pieces;
    private double[] scores;
    private boolean[] required;                  // the single characters
    private PieceTrie trie;
    private int round;

    UnigramTrainer(Map<String, Long> wordCounts, int targetPieces) {
        this.words = wordCounts.keySet().stream().sorted().toArray(String[]::new); // HashMap order must not matter
        this.wordCounts = Arrays.stream(words).mapToLong(wordCounts::get).toArray();
        this.targetPieces = targetPieces;
    }

    UnigramTrainer train() {
        seed();
        while (true) {
            expectationMaximization();
            if (pieces.size() <= targetPieces * PRUNE_SLACK) {
                break;
            }
            prune();
            round++;
        }
        keepBestScores();
        round++;
        expectationMaximization();
        return this;
    }

    /** The tokenizer of the trained pieces, with {@code sentinels} sentinels at the end of the vocabulary. */
    SentencePieceTokenizer tokenizer(int sentinels) {
        double[] rounded = new double[pieces.size()];
        double floor = Arrays.stream(scores).filter(Double::isFinite).min().orElse(0) - 1;
        for (int i = 0; i < rounded.length; i++) {
            double score = Double.isFinite(scores[i]) ? scores[i] : floor; // a piece EM left without uses
            rounded[i] = Math.round(score * 1e6) / 1e6;
        }
        // SentencePiece's order: the highest score first; ties by the piece, so the order is deterministic.
        Integer[] order = new Integer[pieces.size()];
        Arrays.setAll(order, i -> i);
        Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -rounded[i]).thenComparing(i -> pieces.get(i)));
        String[] tokens = SentencePieceTokenizer.vocabulary(Arrays.stream(order).map(pieces::get).toList(), sentinels);
        double[] tokenScores = new double[tokens.length];   // 0 for the specials and sentinels, as in T5's files
        for (int i = 0; i < order.length; i++) {
            tokenScores[SentencePieceTokenizer.SPECIAL_TOKENS.size() + i] = rounded[order[i]];
        }
        return new SentencePieceTokenizer(SentencePieceTokenizer.Kind.UNIGRAM, tokens, tokenScores, List.of(),
                sentinels);
    }

    /** The loss after each EM iteration's E step, in order. */
    List<EmStep> history() {
        return history;
    }

    // ---- seed -----------------------------------------------------------------------------------------------

    private void seed() {
        Map<String, Long> frequency = new HashMap<>();
        TreeSet<String> characters = new TreeSet<>();
        for (int w = 0; w < words.length; w++) {
            String word = words[w];
            int[] offsets = codePointOffsets(word);
            int length = offsets.length - 1;
            for (int i = 0; i < length; i++) {
                characters.add(word.substring(offsets[i], offsets[i + 1]));
                for (int j = i + 1; j <= Math.min(length, i + MAX_PIECE_CHARS); j++) {
                    frequency.merge(word.substring(offsets[i], offsets[j]), wordCounts[w], Long::sum);
                }
            }
        }
        List<String> seeds = new ArrayList<>(characters);
        frequency.entrySet().stream()
                .filter(e -> e.getValue() >= 2 && e.getKey().codePointCount(0, e.getKey().length()) > 1)
                .sorted(Comparator.<Map.Entry<String, Long>>comparingLong(
                                e -> -e.getValue() * e.getKey().codePointCount(0, e.getKey().length()))
                        .thenComparing(Map.Entry::getKey))
                .limit(SEED_PIECES)
                .forEach(e -> seeds.add(e.getKey()));
        double total = seeds.stream().mapToDouble(frequency::get).sum();
        double[] seedScores = seeds.stream().mapToDouble(s -> Math.log(frequency.get(s)) - Math.log(total)).toArray();
        setPieces(seeds, seedScores, characters.size());
    }

    /** Installs a new vocabulary; its first {@code characters} pieces are the characters. */
    private void setPieces(List<String> newPieces, double[] newScores, int characters) {
        pieces = newPieces;
        scores = newScores;
        required = new boolean[newPieces.size()];
        Arrays.fill(required, 0, characters, true);
        trie = new PieceTrie(newPieces);
    }

    // ---- EM -------------------------------------------------------------------------------------------------

    private void expectationMaximization() {
        for (int iteration = 0; iteration < EM_ITERATIONS; iteration++) {
            double[] expected = new double[pieces.size()];
            double logLikelihood = 0;
            double wordTotal = 0;
            Lattice lattice = new Lattice();
            for (int w = 0; w < words.length; w++) {
                lattice.build(words[w]);
                double logZ = lattice.forwardBackward(expected, wordCounts[w]);
                logLikelihood += wordCounts[w] * logZ;
                wordTotal += wordCounts[w];
            }
            history.add(new EmStep(round, iteration, pieces.size(), -logLikelihood / wordTotal));
            double sum = Arrays.stream(expected).sum();
            for (int i = 0; i < scores.length; i++) {
                scores[i] = Math.log(expected[i]) - Math.log(sum);  // −∞ for a piece no segmentation uses
            }
        }
    }

    /** The edges of one word's lattice: every piece occurrence, as (start, end, piece), by start. */
    private final class Lattice {
        int[] start = new int[256];
        int[] end = new int[256];
        int[] piece = new int[256];
        int edges;
        int length;
        final int[] found = new int[Math.max(1, trie.longestPiece())];
        final int[] ends = new int[found.length];

        void build(String word) {
            build(word, -1);
        }

        /** The lattice of {@code word} without the edge of piece {@code excluded} over all of it. */
        void build(String word, int excluded) {
            edges = 0;
            length = word.length();
            for (int at = 0; at < length; at += Character.charCount(word.codePointAt(at))) {
                int count = trie.prefixes(word, at, found, ends);
                for (int k = 0; k < count; k++) {
                    if (Double.isInfinite(scores[found[k]]) || found[k] == excluded && at == 0 && ends[k] == length) {
                        continue;
                    }
                    if (edges == start.length) {
                        start = Arrays.copyOf(start, edges * 2);
                        end = Arrays.copyOf(end, edges * 2);
                        piece = Arrays.copyOf(piece, edges * 2);
                    }
                    start[edges] = at;
                    end[edges] = ends[k];
                    piece[edges] = found[k];
                    edges++;
                }
            }
        }

        /** Adds {@code count} × each edge's posterior to {@code expected}; returns log P(word). */
        double forwardBackward(double[] expected, long count) {
            double[] alpha = new double[length + 1];
            double[] beta = new double[length + 1];
            Arrays.fill(alpha, Double.NEGATIVE_INFINITY);
            Arrays.fill(beta, Double.NEGATIVE_INFINITY);
            alpha[0] = 0;
            beta[length] = 0;
            for (int e = 0; e < edges; e++) {                // edges are in order of start
                alpha[end[e]] = logAdd(alpha[end[e]], alpha[start[e]] + scores[piece[e]]);
            }
            for (int e = edges - 1; e >= 0; e--) {
                beta[start[e]] = logAdd(beta[start[e]], scores[piece[e]] + beta[end[e]]);
            }
            double logZ = alpha[length];
            for (int e = 0; e < edges; e++) {
                double posterior = Math.exp(alpha[start[e]] + scores[piece[e]] + beta[end[e]] - logZ);
                if (posterior > 0) {
                    expected[piece[e]] += count * posterior;
                }
            }
            return logZ;
        }

        /** The pieces of the best path, or null if there is none. */
        int[] viterbi() {
            double[] best = new double[length + 1];
            int[] lastEdge = new int[length + 1];
            Arrays.fill(best, Double.NEGATIVE_INFINITY);
            Arrays.fill(lastEdge, -1);
            best[0] = 0;
            for (int e = 0; e < edges; e++) {
                double candidate = best[start[e]] + scores[piece[e]];
                if (candidate > best[end[e]]) {
                    best[end[e]] = candidate;
                    lastEdge[end[e]] = e;
                }
            }
            if (lastEdge[length] < 0) {
                return null;
            }
            int n = 0;
            int[] path = new int[length];
            for (int at = length; at > 0; at = start[lastEdge[at]]) {
                path[n++] = piece[lastEdge[at]];
            }
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                out[i] = path[n - 1 - i];
            }
            return out;
        }
    }

    private static double logAdd(double a, double b) {
        if (a == Double.NEGATIVE_INFINITY) {
            return b;
        }
        if (b == Double.NEGATIVE_INFINITY) {
            return a;
        }
        double max = Math.max(a, b);
        return max + Math.log1p(Math.exp(Math.min(a, b) - max));
    }

    // ---- pruning --------------------------------------------------------------------------------------------

    private void prune() {
        floorRequiredScores();
        double[] uses = new double[pieces.size()];
        Lattice lattice = new Lattice();
        for (int w = 0; w < words.length; w++) {
            lattice.build(words[w]);
            for (int p : lattice.viterbi()) {
                uses[p] += wordCounts[w];
            }
        }
        double total = Arrays.stream(uses).sum();
        double[] loss = new double[pieces.size()];
        for (int p = 0; p < pieces.size(); p++) {
            if (required[p]) {
                loss[p] = Double.POSITIVE_INFINITY;
                continue;
            }
            double f = uses[p];
            if (f == 0) {
                continue;                                    // never in a best segmentation: loss 0
            }
            lattice.build(pieces.get(p), p);
            int[] alternative = lattice.viterbi();
            if (alternative == null) {
                loss[p] = Double.POSITIVE_INFINITY;
                continue;
            }
            double logProbability = Math.log(f) - Math.log(total);
            double logTotalWithout = Math.log(total + f * (alternative.length - 1));
            double logProbabilityAlternative = 0;
            for (int a : alternative) {
                logProbabilityAlternative += Math.log(uses[a] + f) - logTotalWithout;
            }
            loss[p] = f * (logProbability - logProbabilityAlternative);
        }
        int keep = (int) Math.max(targetPieces * PRUNE_SLACK, SHRINKING_FACTOR * pieces.size());
        keep(Comparator.<Integer>comparingDouble(p -> -loss[p]), keep);
    }

    /** The last selection: the characters and the pieces of highest score, {@link #targetPieces} in all. */
    private void keepBestScores() {
        floorRequiredScores();
        keep(Comparator.<Integer>comparingDouble(p -> -scores[p]), targetPieces);
    }

    /** Keeps the characters and the first pieces in {@code order}, {@code size} in all (ties by the piece). */
    private void keep(Comparator<Integer> order, int size) {
        int characters = 0;
        List<Integer> candidates = new ArrayList<>();
        for (int p = 0; p < pieces.size(); p++) {
            if (required[p]) {
                characters++;
            } else {
                candidates.add(p);
            }
        }
        candidates.sort(order.thenComparing(pieces::get));
        List<String> kept = new ArrayList<>(pieces.subList(0, characters));
        List<Double> keptScores = new ArrayList<>();
        for (int p = 0; p < characters; p++) {
            keptScores.add(scores[p]);
        }
        for (int p : candidates.subList(0, Math.min(candidates.size(), size - characters))) {
            kept.add(pieces.get(p));
            keptScores.add(scores[p]);
        }
        setPieces(kept, keptScores.stream().mapToDouble(Double::doubleValue).toArray(), characters);
    }

    /** A character EM left without uses still needs a score, or a word made of it would have no segmentation. */
    private void floorRequiredScores() {
        double floor = Arrays.stream(scores).filter(Double::isFinite).min().orElse(0) - 1;
        for (int p = 0; p < pieces.size(); p++) {
            if (required[p] && !Double.isFinite(scores[p])) {
                scores[p] = floor;
            }
        }
    }

    private static int[] codePointOffsets(String word) {
        int[] offsets = new int[word.codePointCount(0, word.length()) + 1];
        for (int i = 0, at = 0; at < word.length(); i++) {
            at += Character.charCount(word.codePointAt(at));
            offsets[i + 1] = at;
        }
        return offsets;
    }
}
