package io.ringformer.zoo.t5;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.family.Batch;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** The translator against the model's own graph, and its cached decoding against the uncached one. */
class TranslatorTest {

    static final T5.Config CONFIG = new T5.Config(23, 8, 7, 2, 2, 16, 24, 0, 8, 6, 0);
    /** The same with sinusoids on both stacks' embeddings and cross-attention's relative bias (not in T5). */
    static final T5.Config POSITIONED = new T5.Config(23, 8, 7, 2, 2, 16, 24, 0, 8, 6, 0, true, true, 4);

    private static Translator translator(T5 t5) {
        return new Translator(t5.config(), name -> t5.graph().getVariable(name).getArr());
    }

    /** One sentence through the graph (padded source, whole decoder input) and through the translator. */
    @Test
    void thePrefixDecoderGivesTheGraphsLogits() {
        for (T5.Config config : List.of(CONFIG, POSITIONED)) {
            checkPrefixLogits(config);
        }
    }

    private static void checkPrefixLogits(T5.Config config) {
        T5 t5 = T5.build(config, DataType.FLOAT, 11, false, MixedPrecision.FP32);
        int[] source = {5, 9, 14, 3, T5.EOS};                                   // 5 real of S = 8
        int[] decoder = {T5.PAD, 7, 12, 4, 19, 2, 8};                           // T = 7
        Batch batch = new Batch(T5.layout(8, 7), 1);
        System.arraycopy(source, 0, batch.ints(T5.ENCODER_TOKENS), 0, source.length);
        Arrays.fill(batch.floats(T5.ENCODER_MASK), 0, source.length, 1f);
        System.arraycopy(decoder, 0, batch.ints(T5.DECODER_TOKENS), 0, decoder.length);
        Arrays.fill(batch.floats(T5.TARGET_MASK), 1f);
        Arrays.fill(batch.floats(T5.TARGET_WEIGHTS), 1f / 7);
        INDArray graph = t5.graph().output(t5.feed(batch, 0, 1), T5.LOGITS).get(T5.LOGITS);   // [T, V]
        Translator translator = translator(t5);
        INDArray ours = translator.prefixLogits(translator.encode(source), decoder);          // [T, V]
        assertEquals(0, graph.sub(ours).amaxNumber().doubleValue(), 1e-4, config::toString);
    }

    /** The cache changes the work, not the result: the same tokens, the same log-probability. */
    @Test
    void cachedAndUncachedGreedyDecodingGiveTheSameTokens() {
        for (long seed = 1; seed <= 4; seed++) {
            T5 t5 = T5.build(seed % 2 == 0 ? POSITIONED : CONFIG, DataType.FLOAT, seed, false, MixedPrecision.FP32);
            Translator translator = translator(t5);
            Translator.Source source = translator.encode(new int[] {4, 8, 15, 16, 23 % 23, T5.EOS});
            Translator.Hypothesis cached = translator.greedy(source, 7, 0);
            Translator.Hypothesis uncached = translator.greedyUncached(source, 7, 0);
            assertArrayEquals(uncached.tokens(), cached.tokens(), "seed " + seed);
            assertEquals(uncached.logProbability(), cached.logProbability(), 1e-4);
        }
    }

    /**
     * Beam search returns distinct hypotheses whose scores are the sums of their tokens' log-probabilities, as the
     * uncached decoder computes them; width 1 is greedy decoding.
     */
    @Test
    void beamHypothesesAreScoredByTheirTokensLogProbabilities() {
        T5 t5 = T5.build(CONFIG, DataType.FLOAT, 5, false, MixedPrecision.FP32);
        Translator translator = translator(t5);
        Translator.Source source = translator.encode(new int[] {6, 2, 11, T5.EOS});
        assertArrayEquals(translator.greedy(source, 6, 0).tokens(), translator.beam(source, 1, 6, 0).get(0).tokens());
        List<Translator.Hypothesis> beams = translator.beam(source, 4, 6, 0);
        assertEquals(4, beams.size());
        assertEquals(4, beams.stream().map(h -> Arrays.toString(h.tokens())).distinct().count());
        for (Translator.Hypothesis hypothesis : beams) {
            int[] prefix = new int[hypothesis.tokens().length + 1];
            System.arraycopy(hypothesis.tokens(), 0, prefix, 1, hypothesis.tokens().length);
            INDArray logits = translator.prefixLogits(source, prefix);                        // [t + 1, V]
            double sum = 0;
            for (int i = 0; i < prefix.length; i++) {
                boolean last = i == prefix.length - 1;
                if (last && hypothesis.tokens().length == 6) {
                    break;                                                   // ran out of tokens: no EOS scored
                }
                int next = last ? T5.EOS : prefix[i + 1];
                double[] row = logits.getRow(i).toDoubleVector();
                double max = Arrays.stream(row).max().orElseThrow();
                double log = max + Math.log(Arrays.stream(row).map(l -> Math.exp(l - max)).sum());
                sum += row[next] - log;
            }
            assertEquals(sum, hypothesis.logProbability(), 1e-4, Arrays.toString(hypothesis.tokens()));
            assertTrue(hypothesis.logProbability() < 0);
        }
    }

    /** The tokens banned after a prefix: each that once followed its last n − 1 tokens. */
    @Test
    void banRepeatsBansTheTokensThatWouldCompleteAnNgramAgain() {
        double[] logProbabilities = new double[10];
        java.util.Arrays.fill(logProbabilities, -Math.log(10));
        List<Integer> prefix = List.of(3, 4, 5, 3, 4, 7, 3, 4);
        assertEquals(List.of(5, 7), banned(prefix, logProbabilities, 3));          // 3 4 → 5 and 3 4 → 7 seen
        assertEquals(List.of(), banned(prefix, logProbabilities, 4));              // 7 3 4 came only last
        assertEquals(List.of(5, 7), banned(prefix, logProbabilities, 2));          // 4 → 5 and 4 → 7 seen
        assertEquals(List.of(3, 4, 5, 7), banned(prefix, logProbabilities, 1));    // anything emitted
        assertEquals(List.of(), banned(prefix, logProbabilities, 0));
        assertEquals(List.of(), banned(List.of(3, 4), logProbabilities, 3));      // no whole 3-gram yet
        assertEquals(-Math.log(10), logProbabilities[5], 0, "the input is not changed");
    }

    /** No translation is empty: EOS may not come first; later it may, and the repeats are still banned. */
    @Test
    void eosMayNotComeFirst() {
        double[] logProbabilities = new double[10];
        java.util.Arrays.fill(logProbabilities, -Math.log(10));
        double[] first = Translator.allowedNext(List.of(), logProbabilities, 2);
        assertEquals(Double.NEGATIVE_INFINITY, first[T5.EOS]);
        assertEquals(1, java.util.Arrays.stream(first).filter(p -> p == Double.NEGATIVE_INFINITY).count());
        double[] later = Translator.allowedNext(List.of(3, 4, 3), logProbabilities, 2);
        assertEquals(-Math.log(10), later[T5.EOS]);
        assertEquals(Double.NEGATIVE_INFINITY, later[4]);                      // 3 → 4 seen
        assertEquals(-Math.log(10), logProbabilities[T5.EOS], 0, "the input is not changed");
    }

    private static List<Integer> banned(List<Integer> prefix, double[] logProbabilities, int n) {
        double[] out = Translator.banRepeats(prefix, logProbabilities, n);
        return java.util.stream.IntStream.range(0, out.length).filter(i -> out[i] == Double.NEGATIVE_INFINITY)
                .boxed().toList();
    }

    /**
     * Random models loop (each seed's greedy output repeats a bigram here); with no-repeat 2 no output holds a bigram
     * twice, cached and uncached decoding still agree, and beam scores stay the tokens' log-probabilities.
     */
    @Test
    void noRepeatDecodingNeverRepeatsAnNgram() {
        int repeating = 0;
        for (long seed = 1; seed <= 4; seed++) {
            T5 t5 = T5.build(CONFIG, DataType.FLOAT, seed, false, MixedPrecision.FP32);
            Translator translator = translator(t5);
            Translator.Source source = translator.encode(new int[] {4, 8, 15, 16, 22, T5.EOS});
            repeating += repeatsABigram(translator.greedy(source, 7, 0).tokens()) ? 1 : 0;
            Translator.Hypothesis cached = translator.greedy(source, 7, 2);
            assertTrue(!repeatsABigram(cached.tokens()), Arrays.toString(cached.tokens()));
            Translator.Hypothesis uncached = translator.greedyUncached(source, 7, 2);
            assertArrayEquals(uncached.tokens(), cached.tokens(), "seed " + seed);
            assertEquals(uncached.logProbability(), cached.logProbability(), 1e-4);
            for (Translator.Hypothesis hypothesis : translator.beam(source, 3, 7, 2)) {
                assertTrue(!repeatsABigram(hypothesis.tokens()), Arrays.toString(hypothesis.tokens()));
                assertTrue(Double.isFinite(hypothesis.logProbability()));
            }
        }
        assertTrue(repeating > 0, "no seed's plain greedy output repeats a bigram: the test shows nothing");
    }

    private static boolean repeatsABigram(int[] tokens) {
        java.util.Set<List<Integer>> seen = new java.util.HashSet<>();
        for (int i = 0; i + 1 < tokens.length; i++) {
            if (!seen.add(List.of(tokens[i], tokens[i + 1]))) {
                return true;
            }
        }
        return false;
    }
}
