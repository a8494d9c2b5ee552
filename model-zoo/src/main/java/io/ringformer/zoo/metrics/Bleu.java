package io.ringformer.zoo.metrics;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Corpus BLEU (Papineni et al. 2002) exactly as sacreBLEU 2.x computes it with its defaults
 * ({@code BLEU().corpus_score(hypotheses, [references])}: tokenizer "13a", no lowercasing, n-grams up to 4,
 * smoothing "exp", no effective order), for one reference per sentence. Written from sacreBLEU's
 * {@code metrics/bleu.py}:
 * <ol>
 *   <li>Each sentence loses its trailing whitespace and is tokenized by {@link Tokenizer13a}; tokens are the
 *       whitespace-separated parts.</li>
 *   <li>For each n = 1…4 and each sentence, every hypothesis n-gram counts towards {@code total[n]}, and towards
 *       {@code matches[n]} at most as often as it occurs in the reference (clipping). Both are summed over the
 *       corpus, as are the hypothesis length c and the reference length r, in tokens.</li>
 *   <li>Brevity penalty: 1 if c ≥ r, else exp(1 − r/c) (0 when c = 0).</li>
 *   <li>If no n-gram of any order matches, BLEU is 0. Otherwise precision[n] = 100 · matches[n] / total[n]; an
 *       order with no match gets 100 / (2^k · total[n]) instead, k counting the orders without matches so far
 *       ("exp" smoothing, mteval-v13a's: the first such order gets 100 / (2 · total), the next 100 / (4 · total),
 *       …); an order with no n-grams at all (every hypothesis shorter than n) ends the loop, leaving it and the
 *       orders above at 0, which make BLEU 0.</li>
 *   <li>BLEU = BP · exp(¼ Σ log precision[n]), on the 0–100 scale; log 0 counts as −9999999999, as in
 *       sacreBLEU.</li>
 * </ol>
 */
public final class Bleu {

    public static final int MAX_ORDER = 4;

    /** The score (0–100) and the statistics it is made of; arrays are indexed by n − 1. */
    public record Score(double score, double[] precisions, double brevityPenalty, long hypothesisLength,
                        long referenceLength, long[] matches, long[] totals) {

        @Override
        public String toString() {
            return String.format("BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
                    score, precisions[0], precisions[1], precisions[2], precisions[3], brevityPenalty,
                    (double) hypothesisLength / referenceLength, hypothesisLength, referenceLength);
        }
    }

    private Bleu() {}

    /** Corpus BLEU of {@code hypotheses} against {@code references}, the i-th against the i-th. */
    public static Score corpus(List<String> hypotheses, List<String> references) {
        if (hypotheses.size() != references.size()) {
            throw new IllegalArgumentException(hypotheses.size() + " hypotheses but " + references.size()
                    + " references; BLEU needs one reference per hypothesis");
        }
        long[] matches = new long[MAX_ORDER];
        long[] totals = new long[MAX_ORDER];
        long hypothesisLength = 0;
        long referenceLength = 0;
        for (int i = 0; i < hypotheses.size(); i++) {
            List<String> hypothesis = tokens(hypotheses.get(i));
            List<String> reference = tokens(references.get(i));
            hypothesisLength += hypothesis.size();
            referenceLength += reference.size();
            Map<String, Integer> referenceCounts = ngramCounts(reference);
            for (Map.Entry<String, Integer> ngram : ngramCounts(hypothesis).entrySet()) {
                int n = order(ngram.getKey());
                totals[n - 1] += ngram.getValue();
                matches[n - 1] += Math.min(ngram.getValue(), referenceCounts.getOrDefault(ngram.getKey(), 0));
            }
        }
        return score(matches, totals, hypothesisLength, referenceLength);
    }

    /** BLEU from its corpus statistics (step 3 on of the class comment). */
    static Score score(long[] matches, long[] totals, long hypothesisLength, long referenceLength) {
        double brevityPenalty = 1.0;
        if (hypothesisLength < referenceLength) {
            brevityPenalty = hypothesisLength > 0
                    ? Math.exp(1 - (double) referenceLength / hypothesisLength) : 0.0;
        }
        double[] precisions = new double[MAX_ORDER];
        boolean anyMatch = false;
        for (long m : matches) {
            anyMatch |= m > 0;
        }
        if (!anyMatch) {
            return new Score(0.0, precisions, brevityPenalty, hypothesisLength, referenceLength, matches, totals);
        }
        double smoothing = 1.0;
        for (int n = 0; n < MAX_ORDER; n++) {
            if (totals[n] == 0) {
                break;
            }
            if (matches[n] == 0) {
                smoothing *= 2;
                precisions[n] = 100.0 / (smoothing * totals[n]);
            } else {
                precisions[n] = 100.0 * matches[n] / totals[n];
            }
        }
        double sumOfLogs = 0;
        for (double precision : precisions) {
            sumOfLogs += precision == 0.0 ? -9999999999.0 : Math.log(precision);
        }
        double score = brevityPenalty * Math.exp(sumOfLogs / MAX_ORDER);
        return new Score(score, precisions, brevityPenalty, hypothesisLength, referenceLength, matches, totals);
    }

    static List<String> tokens(String sentence) {
        return Tokenizer13a.split(Tokenizer13a.tokenize(Tokenizer13a.stripTrailingWhitespace(sentence)));
    }

    /** Every n-gram of 1 to {@value #MAX_ORDER} tokens, its tokens joined by spaces (a token holds none). */
    private static Map<String, Integer> ngramCounts(List<String> tokens) {
        Map<String, Integer> counts = new HashMap<>();
        for (int n = 1; n <= MAX_ORDER; n++) {
            for (int i = 0; i + n <= tokens.size(); i++) {
                counts.merge(String.join(" ", tokens.subList(i, i + n)), 1, Integer::sum);
            }
        }
        return counts;
    }

    private static int order(String ngram) {
        int spaces = 0;
        for (int i = 0; i < ngram.length(); i++) {
            if (ngram.charAt(i) == ' ') {
                spaces++;
            }
        }
        return spaces + 1;
    }
}
