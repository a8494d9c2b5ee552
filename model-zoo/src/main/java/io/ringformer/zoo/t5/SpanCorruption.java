package io.ringformer.zoo.t5;

import io.ringformer.zoo.data.SplitMix64;
import java.util.Arrays;

/**
 * T5's pre-training objective (Raffel et al. 2020, §3.1.4 and §3.3.4): spans of a token sequence are dropped from the
 * encoder's input, each replaced by one sentinel, and the decoder learns to write them out. A port of the
 * {@code t5} library's {@code random_spans_noise_mask}, {@code noise_span_to_unique_sentinel} (inputs),
 * {@code nonnoise_span_to_unique_sentinel} (targets) and {@code random_spans_helper} (t5/data/preprocessors.py),
 * on {@code int[]} token ids.
 *
 * <p><b>The noise mask</b> of a sequence of L tokens ({@link #noiseMask}), as {@code random_spans_noise_mask}:
 * <ol>
 *   <li>noise tokens N = round(L · density), clamped to [1, L − 1]; noise spans K = max(1, round(N / mean span));
 *       rounding is half to even on float32 products, as {@code tf.round} on {@code tf.float32} (for L below 2 the
 *       mask is that of L = 2, cut to L, as T5 does);</li>
 *   <li>the N noise tokens are cut into K non-empty spans, and the L − N others into K non-empty spans, each by
 *       {@code _random_segmentation}: a uniform random permutation of K − 1 ones and n − K zeros marks which of
 *       items 1…n − 1 start a new segment, so every composition of n into K positive parts is equally likely;</li>
 *   <li>the spans alternate, non-noise first: keep₀ noise₀ keep₁ noise₁ … keep_{K−1} noise_{K−1}. The sequence
 *       always starts with kept tokens and ends with noise.</li>
 * </ol>
 * The permutations come from SplitMix64 seeded by the caller (Fisher–Yates, noise spans first), where T5 uses
 * {@code stateless_shuffle}: the same distribution, not the same draws.
 *
 * <p><b>Inputs and targets</b> ({@link #corrupt}). With sentinel k the id {@code firstSentinel − k}
 * ({@code <extra_id_0>} is the vocabulary's last id, and sentinels count down from it as in T5):
 * <pre>
 *   inputs  = keep₀ S₀ keep₁ S₁ … keep_{K−1} S_{K−1} EOS     each noise span becomes its sentinel
 *   targets = S₀ noise₀ S₁ noise₁ … S_{K−1} noise_{K−1} EOS   each kept span becomes its sentinel
 * </pre>
 * so the inputs end with a sentinel, the targets start with {@code <extra_id_0>} and have no final sentinel, and
 * sentinel k introduces in the targets the tokens it hides in the inputs. Lengths: L − N + K + 1 and N + K + 1.
 * The EOS is what seqio's {@code append_eos_after_trim} adds to both features after T5's preprocessing.
 *
 * <p><b>Lengths</b> ({@link #lengthsFor}): {@code random_spans_helper} finds the most raw tokens whose inputs fit an
 * encoder length exactly, and the targets' length they then have (512 → 568 raw tokens, 114 targets; 128 → 141
 * raw, 29 targets; 64 → 70 raw, 14 targets, at density 0.15 and mean span 3).
 */
public final class SpanCorruption {

    /** T5's density and mean noise span length. */
    public static final double NOISE_DENSITY = 0.15;
    public static final double MEAN_NOISE_SPAN_LENGTH = 3.0;
    /** T5's vocabulary has 100 sentinels, {@code <extra_id_0>} to {@code <extra_id_99>}. */
    public static final int SENTINELS = 100;

    /** A corrupted sequence: the encoder's input and the decoder's target, each ending with EOS. */
    public record Corrupted(int[] inputs, int[] targets) {}

    /** {@code random_spans_helper}: raw tokens per example, and the length of their targets. */
    public record Lengths(int tokens, int targets) {}

    private final double noiseDensity;
    private final double meanNoiseSpanLength;
    private final int firstSentinel;
    private final int sentinels;
    private final int eos;

    /**
     * @param noiseDensity        share of tokens to drop, in (0, 1)
     * @param meanNoiseSpanLength mean length of a dropped span, at least 1
     * @param firstSentinel       the id of {@code <extra_id_0>}; sentinel k is {@code firstSentinel − k}
     * @param sentinels           how many sentinels the vocabulary has: at most this many spans per sequence
     * @param eos                 the id of {@code </s>}
     */
    public SpanCorruption(double noiseDensity, double meanNoiseSpanLength, int firstSentinel, int sentinels, int eos) {
        if (!(noiseDensity > 0 && noiseDensity < 1)) {
            throw new IllegalArgumentException("noise density must be strictly between 0 and 1, got " + noiseDensity);
        }
        if (!(meanNoiseSpanLength >= 1)) {
            throw new IllegalArgumentException("mean noise span length must be at least 1, got " + meanNoiseSpanLength);
        }
        if (sentinels < 1 || firstSentinel - sentinels + 1 < 0) {
            throw new IllegalArgumentException(sentinels + " sentinels counting down from id " + firstSentinel
                    + " do not fit in the vocabulary");
        }
        if (eos > firstSentinel - sentinels && eos <= firstSentinel) {
            throw new IllegalArgumentException("EOS id " + eos + " is one of the sentinels");
        }
        this.noiseDensity = noiseDensity;
        this.meanNoiseSpanLength = meanNoiseSpanLength;
        this.firstSentinel = firstSentinel;
        this.sentinels = sentinels;
        this.eos = eos;
    }

    /** T5's settings (density 0.15, mean span 3, 100 sentinels) for a vocabulary of {@code vocabSize} ids. */
    public static SpanCorruption t5(int vocabSize, int eos) {
        return new SpanCorruption(NOISE_DENSITY, MEAN_NOISE_SPAN_LENGTH, vocabSize - 1, SENTINELS, eos);
    }

    /** {@link #lengthsFor(int, double, double)} at this corruption's density and mean span length. */
    public Lengths lengthsFor(int inputsLength) {
        return lengthsFor(inputsLength, noiseDensity, meanNoiseSpanLength);
    }

    /** The id of sentinel {@code k} ({@code <extra_id_k>}). */
    public int sentinel(int k) {
        if (k < 0 || k >= sentinels) {
            throw new IllegalArgumentException("sentinel " + k + " outside [0, " + sentinels + ")");
        }
        return firstSentinel - k;
    }

    /** Whether {@code id} is a sentinel. */
    public boolean isSentinel(int id) {
        return id <= firstSentinel && id > firstSentinel - sentinels;
    }

    /** N: the noise tokens of a sequence of {@code length} ≥ 2 tokens. */
    public int noiseTokens(int length) {
        int noise = (int) Math.rint((float) length * (float) noiseDensity);      // tf.round on float32
        return Math.min(Math.max(noise, 1), length - 1);
    }

    /** K: the noise spans of a sequence of {@code length} ≥ 2 tokens. */
    public int noiseSpans(int length) {
        return Math.max((int) Math.rint((float) noiseTokens(length) / (float) meanNoiseSpanLength), 1);
    }

    /** {@code random_spans_noise_mask}: true at the tokens to drop. */
    public boolean[] noiseMask(int length, SplitMix64 random) {
        int padded = Math.max(length, 2);                 // T5: "increase length to avoid degeneracy"
        int noise = noiseTokens(padded);
        int spans = noiseSpans(padded);
        if (spans > padded - noise) {
            throw new IllegalArgumentException(spans + " noise spans need as many non-noise tokens between them, but "
                    + length + " tokens at density " + noiseDensity + " leave " + (padded - noise));
        }
        int[] noiseLengths = randomSegmentation(noise, spans, random);
        int[] keptLengths = randomSegmentation(padded - noise, spans, random);
        boolean[] mask = new boolean[padded];
        int position = 0;
        for (int span = 0; span < spans; span++) {
            position += keptLengths[span];
            Arrays.fill(mask, position, position + noiseLengths[span], true);
            position += noiseLengths[span];
        }
        return Arrays.copyOf(mask, length);
    }

    /**
     * {@code _random_segmentation}: {@code items} cut into {@code segments} non-empty parts, uniformly among all such
     * cuts. A shuffled vector of segments − 1 ones and items − segments zeros says which of items 1…items − 1 start a
     * segment.
     */
    static int[] randomSegmentation(int items, int segments, SplitMix64 random) {
        int[] starts = new int[items - 1];
        Arrays.fill(starts, 0, segments - 1, 1);
        for (int i = starts.length - 1; i > 0; i--) {     // Fisher–Yates
            int j = random.nextInt(i + 1);
            int swap = starts[i];
            starts[i] = starts[j];
            starts[j] = swap;
        }
        int[] lengths = new int[segments];
        int segment = 0;
        lengths[0] = 1;                                   // item 0 always opens segment 0
        for (int start : starts) {
            segment += start;
            lengths[segment]++;
        }
        return lengths;
    }

    /**
     * Corrupts {@code tokens} (no EOS among them) with the spans drawn from {@code seed}: a pure function of the two.
     *
     * @throws IllegalArgumentException when the sequence has more noise spans than there are sentinels
     */
    public Corrupted corrupt(int[] tokens, long seed) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("cannot corrupt an empty sequence");
        }
        boolean[] noise = noiseMask(tokens.length, new SplitMix64(seed));
        return new Corrupted(withSentinels(tokens, noise, true), withSentinels(tokens, noise, false));
    }

    /**
     * {@code noise_span_to_unique_sentinel} when {@code dropNoise}, else {@code nonnoise_span_to_unique_sentinel}:
     * each span of the dropped kind becomes one sentinel, numbered in order from 0; then EOS.
     */
    private int[] withSentinels(int[] tokens, boolean[] noise, boolean dropNoise) {
        int[] out = new int[tokens.length + 1];
        int length = 0;
        int sentinel = 0;
        for (int i = 0; i < tokens.length; i++) {
            boolean dropped = noise[i] == dropNoise;
            if (!dropped) {
                out[length++] = tokens[i];
            } else if (i == 0 || noise[i - 1] != noise[i]) { // the first token of a dropped span
                if (sentinel == sentinels) {
                    throw new IllegalArgumentException("a sequence of " + tokens.length + " tokens has more than "
                            + sentinels + " spans: there are not enough sentinels");
                }
                out[length++] = firstSentinel - sentinel++;
            }
        }
        out[length++] = eos;
        return Arrays.copyOf(out, length);
    }

    /**
     * {@code random_spans_helper}: the most raw tokens whose corrupted inputs, one sentinel per noise span and EOS
     * included, fit in {@code inputsLength}, and the length of their targets (a sentinel per span and EOS). Rounding
     * is Python's {@code round} on doubles (half to even), as in the t5 library.
     */
    public static Lengths lengthsFor(int inputsLength, double noiseDensity, double meanNoiseSpanLength) {
        if (inputsLength < 2) {
            throw new IllegalArgumentException("inputs length " + inputsLength + " cannot hold a token and EOS");
        }
        int tokens = inputsLength - 1;
        while (corruptedLengths(tokens + 1, noiseDensity, meanNoiseSpanLength)[0] <= inputsLength) {
            tokens++;
        }
        int targets = corruptedLengths(tokens, noiseDensity, meanNoiseSpanLength)[1];
        if (noiseDensity == 0.5 && targets > inputsLength) { // T5: "a minor hack" to make targets equal inputs
            tokens--;
            targets--;
        }
        return new Lengths(tokens, targets);
    }

    /** {@code _tokens_length_to_inputs_length_targets_length}: {inputs, targets} for {@code tokens} raw tokens. */
    private static int[] corruptedLengths(int tokens, double noiseDensity, double meanNoiseSpanLength) {
        int noise = (int) Math.rint(tokens * noiseDensity);
        int spans = (int) Math.rint(noise / meanNoiseSpanLength);
        return new int[] {tokens - noise + spans + 1, noise + spans + 1};
    }
}
