package io.ringformer.zoo.metrics;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Corpus chrF (Popović 2015) exactly as sacreBLEU 2.x computes it with its defaults
 * ({@code CHRF().corpus_score(hypotheses, [references])}: character n-grams of 1 to 6, no word n-grams, β = 2,
 * whitespace removed, case kept, {@code eps_smoothing=False}), for one reference per sentence. Written from
 * sacreBLEU's {@code metrics/chrf.py}:
 * <ol>
 *   <li>Each sentence loses all its whitespace (Python's notion); n-grams are over code points.</li>
 *   <li>For each order n and each sentence: the hypothesis's n-gram count, the reference's n-gram count, and the
 *       matches (each hypothesis n-gram at most as often as in the reference). A sentence whose reference has no
 *       n-gram of order n adds nothing to the hypothesis count of that order. All three are summed over the
 *       corpus.</li>
 *   <li>From the sums: for each order with hypothesis and reference n-grams, precision = matches / hypothesis
 *       count and recall = matches / reference count. It is the precisions and recalls that are averaged over those
 *       orders (not per-order F-scores: that is the {@code eps_smoothing=True} variant of chrF++.py, NLTK and
 *       Moses), and then chrF = 100 · (1 + β²) · P · R / (β² · P + R), or 0 when P + R = 0.</li>
 * </ol>
 */
public final class ChrF {

    public static final int CHAR_ORDER = 6;
    public static final double BETA = 2;

    private ChrF() {}

    /** Corpus chrF (0–100) of {@code hypotheses} against {@code references}, the i-th against the i-th. */
    public static double corpus(List<String> hypotheses, List<String> references) {
        if (hypotheses.size() != references.size()) {
            throw new IllegalArgumentException(hypotheses.size() + " hypotheses but " + references.size()
                    + " references; chrF needs one reference per hypothesis");
        }
        long[] hypothesisCounts = new long[CHAR_ORDER];
        long[] referenceCounts = new long[CHAR_ORDER];
        long[] matches = new long[CHAR_ORDER];
        for (int i = 0; i < hypotheses.size(); i++) {
            int[] hypothesis = withoutWhitespace(hypotheses.get(i));
            int[] reference = withoutWhitespace(references.get(i));
            for (int n = 1; n <= CHAR_ORDER; n++) {
                Map<String, Integer> hypothesisNgrams = ngrams(hypothesis, n);
                Map<String, Integer> referenceNgrams = ngrams(reference, n);
                long hypothesisCount = 0;
                for (Map.Entry<String, Integer> ngram : hypothesisNgrams.entrySet()) {
                    hypothesisCount += ngram.getValue();
                    matches[n - 1] += Math.min(ngram.getValue(), referenceNgrams.getOrDefault(ngram.getKey(), 0));
                }
                hypothesisCounts[n - 1] += referenceNgrams.isEmpty() ? 0 : hypothesisCount;
                referenceCounts[n - 1] += Math.max(0, reference.length - n + 1);
            }
        }
        return score(hypothesisCounts, referenceCounts, matches);
    }

    /** chrF from the corpus sums (step 3 of the class comment). */
    static double score(long[] hypothesisCounts, long[] referenceCounts, long[] matches) {
        double factor = BETA * BETA;
        double averagePrecision = 0;
        double averageRecall = 0;
        int effectiveOrder = 0;
        for (int n = 0; n < CHAR_ORDER; n++) {
            if (hypothesisCounts[n] > 0 && referenceCounts[n] > 0) {
                averagePrecision += (double) matches[n] / hypothesisCounts[n];
                averageRecall += (double) matches[n] / referenceCounts[n];
                effectiveOrder++;
            }
        }
        if (effectiveOrder == 0) {
            return 0.0;
        }
        averagePrecision /= effectiveOrder;
        averageRecall /= effectiveOrder;
        if (averagePrecision + averageRecall == 0) {
            return 0.0;
        }
        double score = (1 + factor) * averagePrecision * averageRecall;
        score /= factor * averagePrecision + averageRecall;
        return 100 * score;
    }

    private static int[] withoutWhitespace(String sentence) {
        return sentence.codePoints().filter(c -> c > 0xFFFF || !Tokenizer13a.isPythonWhitespace((char) c)).toArray();
    }

    private static Map<String, Integer> ngrams(int[] codePoints, int n) {
        Map<String, Integer> counts = new HashMap<>();
        for (int i = 0; i + n <= codePoints.length; i++) {
            counts.merge(new String(codePoints, i, n), 1, Integer::sum);
        }
        return counts;
    }
}
