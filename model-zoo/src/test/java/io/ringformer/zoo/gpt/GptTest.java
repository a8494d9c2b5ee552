package io.ringformer.zoo.gpt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.GradientCheck;
import io.ringformer.zoo.ParameterTable;
import io.ringformer.zoo.attention.AttentionTypes;
import io.ringformer.zoo.attention.PositionType;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

class GptTest {

    static Map<String, INDArray> batch(int[][] tokens, int[][] targets) {
        Map<String, INDArray> feed = new HashMap<>();
        feed.put(Gpt.TOKENS, Nd4j.createFromArray(tokens));
        feed.put(Gpt.TARGETS, Nd4j.createFromArray(targets));
        return feed;
    }

    static int[][] randomTokens(long seed, int rows, int length, int vocab) {
        SplittableRandom random = new SplittableRandom(seed);
        int[][] tokens = new int[rows][length];
        for (int[] row : tokens) {
            for (int t = 0; t < length; t++) {
                row[t] = random.nextInt(vocab);
            }
        }
        return tokens;
    }

    @ParameterizedTest
    @EnumSource(PositionType.class)
    void gradientsOfEveryParameterMatchFiniteDifferences(PositionType positions) {
        Gpt gpt = Gpt.build(new Gpt.Config(11, 6, 2, 2, 12, 0, positions), DataType.DOUBLE, 3, false);
        int[][] targets = randomTokens(2, 3, 6, 11);
        targets[1][4] = -1;
        Map<String, INDArray> feed = batch(randomTokens(1, 3, 6, 11), targets);
        List<String> names = gpt.parameterNames();
        assertEquals(positions == PositionType.LEARNED ? 2 + 2 * 12 + 2 : 1 + 2 * 12 + 2, names.size(), names::toString);
        GradientCheck.check(gpt.graph(), Gpt.LOSS, feed, 12, names.toArray(String[]::new));
    }

    @Test
    void anUntiedHeadHasItsOwnMatrixWithDecayAndCorrectGradients() {
        Gpt gpt = Gpt.build(new Gpt.Config(11, 6, 1, 2, 12, 0, PositionType.LEARNED, false), DataType.DOUBLE, 3,
                false);
        List<String> names = gpt.parameterNames();
        assertTrue(names.contains("lm_head") && gpt.decays("lm_head") && gpt.decays("wte"), names::toString);
        Map<String, INDArray> feed = batch(randomTokens(4, 3, 6, 11), randomTokens(5, 3, 6, 11));
        GradientCheck.check(gpt.graph(), Gpt.LOSS, feed, 12, names.toArray(String[]::new));
    }

    @Test
    void pytorchInitialisationDrawsLinearsFromTheirFanInAndEmbeddingsFromAUnitNormal() {
        int d = 32;
        Gpt.Config config = new Gpt.Config(65, 16, 2, 4, d, 0, PositionType.LEARNED, false, AttentionTypes.full(),
                Gpt.Init.PYTORCH);
        ParameterTable table = Gpt.parameters(config, new io.ringformer.zoo.Initializer(1, DataType.FLOAT));
        assertEquals(1.0, std(table.get("wte").initial()), 0.05);
        assertEquals(1.0, std(table.get("wpe").initial()), 0.1);
        for (String name : List.of("h0/attn/w_qkv", "h1/attn/b_out", "h0/mlp/w_fc", "lm_head")) {
            double bound = 1 / Math.sqrt(d);                              // U(±b) has std b/√3
            assertEquals(bound / Math.sqrt(3), std(table.get(name).initial()), 0.15 * bound, name);
            assertTrue(java.util.Arrays.stream(table.get(name).initial()).allMatch(x -> Math.abs(x) <= bound), name);
        }
        double proj = 1 / Math.sqrt(4.0 * d);                              // fan-in 4d
        assertTrue(java.util.Arrays.stream(table.get("h1/mlp/b_proj").initial()).allMatch(x -> Math.abs(x) <= proj));
        assertEquals(proj / Math.sqrt(3), std(table.get("h1/mlp/w_proj").initial()), 0.1 * proj);
        assertEquals(1.0, table.get("h0/ln_1/gain").initial()[5], 0.0);
    }

    private static double std(double[] values) {
        double sum = 0;
        double squares = 0;
        for (double v : values) {
            sum += v;
            squares += v * v;
        }
        double mean = sum / values.length;
        return Math.sqrt(squares / values.length - mean * mean);
    }

    @Test
    void dropoutMasksComeFromSeedStepAndSequenceAndBackpropCorrectly() {
        Gpt gpt = Gpt.build(new Gpt.Config(11, 6, 2, 2, 12, 0.3, PositionType.ROPE), DataType.DOUBLE, 3, true);
        int[][] tokens = randomTokens(1, 3, 6, 11);
        Map<String, INDArray> step1 = batch(tokens, tokens);
        step1.putAll(gpt.dropoutNoise(5, 1, 0, 3));
        Map<String, INDArray> again = batch(tokens, tokens);
        again.putAll(gpt.dropoutNoise(5, 1, 0, 3));
        Map<String, INDArray> step2 = batch(tokens, tokens);
        step2.putAll(gpt.dropoutNoise(5, 2, 0, 3));
        SameDiff sd = gpt.graph();
        double loss1 = sd.output(step1, Gpt.LOSS).get(Gpt.LOSS).getDouble(0);
        assertEquals(loss1, sd.output(again, Gpt.LOSS).get(Gpt.LOSS).getDouble(0), 0.0);
        assertNotEquals(loss1, sd.output(step2, Gpt.LOSS).get(Gpt.LOSS).getDouble(0));
        // Sequence 2's noise does not depend on which slice of the batch it was generated in.
        INDArray whole = gpt.dropoutNoise(5, 1, 0, 3).get("dropout_noise_0");
        INDArray alone = gpt.dropoutNoise(5, 1, 2, 1).get("dropout_noise_0");
        assertEquals(whole.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(12, 18),
                org.nd4j.linalg.indexing.NDArrayIndex.all()), alone);
        double dropped = whole.lt(0.3).castTo(DataType.DOUBLE).meanNumber().doubleValue();
        assertEquals(0.3, dropped, 0.1, "share of dropped units");
        // With the noise fixed, the dropped graph is a plain function: finite differences hold.
        GradientCheck.check(sd, Gpt.LOSS, step1, 8, gpt.parameterNames().toArray(String[]::new));
    }

    @ParameterizedTest
    @EnumSource(PositionType.class)
    void logitsBeforeAChangedTokenDoNotChange(PositionType positions) {
        Gpt gpt = Gpt.build(new Gpt.Config(13, 9, 2, 2, 16, 0, positions), DataType.FLOAT, 4, false);
        int[][] tokens = randomTokens(5, 2, 9, 13);
        INDArray before = gpt.graph().output(batch(tokens, tokens), Gpt.LOGITS).get(Gpt.LOGITS).dup();
        int changed = 5;
        tokens[0][changed] = (tokens[0][changed] + 1) % 13;
        tokens[1][changed] = (tokens[1][changed] + 1) % 13;
        INDArray after = gpt.graph().output(batch(tokens, tokens), Gpt.LOGITS).get(Gpt.LOGITS);
        for (int b = 0; b < 2; b++) {
            for (int t = 0; t < 9; t++) {
                if (t < changed) {
                    assertEquals(before.getRow(b * 9 + t), after.getRow(b * 9 + t), "position " + t);
                } else {
                    assertNotEquals(before.getRow(b * 9 + t), after.getRow(b * 9 + t), "position " + t);
                }
            }
        }
    }

    @Test
    void lossIsTheMeanCrossEntropyOverTargetsThatAreNotIgnored() {
        Gpt gpt = Gpt.build(new Gpt.Config(7, 5, 1, 1, 8, 0, PositionType.LEARNED), DataType.FLOAT, 6, false);
        int[][] tokens = randomTokens(8, 2, 5, 7);
        int[][] targets = randomTokens(9, 2, 5, 7);
        targets[0][1] = -1;
        targets[1][3] = -1;
        Map<String, INDArray> out = gpt.graph().output(batch(tokens, targets), Gpt.LOGITS, Gpt.LOSS);
        INDArray logits = out.get(Gpt.LOGITS);
        double sum = 0;
        int counted = 0;
        for (int b = 0; b < 2; b++) {
            for (int t = 0; t < 5; t++) {
                if (targets[b][t] < 0) {
                    continue;
                }
                double[] row = logits.getRow(b * 5 + t).toDoubleVector();
                double max = java.util.Arrays.stream(row).max().orElseThrow();
                double logSum = Math.log(java.util.Arrays.stream(row).map(x -> Math.exp(x - max)).sum()) + max;
                sum += logSum - row[targets[b][t]];
                counted++;
            }
        }
        assertEquals(sum / counted, out.get(Gpt.LOSS).getDouble(0), 1e-5);
    }

    @Test
    void attentionMapsAreRowStochasticAndCausal() {
        Gpt gpt = Gpt.build(new Gpt.Config(13, 6, 2, 3, 12, 0, PositionType.ALIBI), DataType.FLOAT, 4, false);
        int[][] tokens = randomTokens(5, 2, 6, 13);
        INDArray map = gpt.graph().output(batch(tokens, tokens), gpt.attentionMap(1)).get(gpt.attentionMap(1));
        assertEquals(List.of(2L, 3L, 6L, 6L), List.of(map.size(0), map.size(1), map.size(2), map.size(3)));
        for (int t = 0; t < 6; t++) {
            assertEquals(1.0, map.get(org.nd4j.linalg.indexing.NDArrayIndex.point(1),
                    org.nd4j.linalg.indexing.NDArrayIndex.point(2), org.nd4j.linalg.indexing.NDArrayIndex.point(t),
                    org.nd4j.linalg.indexing.NDArrayIndex.all()).sumNumber().doubleValue(), 1e-5);
            for (int s = t + 1; s < 6; s++) {
                assertEquals(0.0, map.getDouble(0, 0, t, s), 0.0);
            }
        }
    }

    /**
     * A task only attention can solve: each sequence alternates two random tokens (a b a b …), so the token after
     * position t is the one at t − 1. The first target is unpredictable and ignored (−1).
     */
    @ParameterizedTest
    @EnumSource(PositionType.class)
    void learnsToCopyThePreviousTokenToNearZeroLoss(PositionType positions) {
        int vocab = 10, length = 12, rows = 16;
        Gpt gpt = Gpt.build(new Gpt.Config(vocab, length, 2, 2, 32, 0, positions), DataType.FLOAT, 7, true);
        SameDiff sd = gpt.graph();
        sd.setTrainingConfig(TrainingConfig.builder().updater(new Adam(3e-3))
                .dataSetFeatureMapping(Gpt.TOKENS).dataSetLabelMapping(Gpt.TARGETS).build());
        SplittableRandom random = new SplittableRandom(11);
        double first = Double.NaN, last = Double.NaN;
        for (int step = 0; step < 400; step++) {
            int[][] tokens = new int[rows][length];
            int[][] targets = new int[rows][length];
            for (int r = 0; r < rows; r++) {
                int a = random.nextInt(vocab), b = (a + 1 + random.nextInt(vocab - 1)) % vocab;
                for (int t = 0; t < length; t++) {
                    tokens[r][t] = t % 2 == 0 ? a : b;
                    targets[r][t] = t == 0 ? -1 : (t % 2 == 0 ? b : a);
                }
            }
            INDArray[] features = {Nd4j.createFromArray(tokens)};
            INDArray[] labels = {Nd4j.createFromArray(targets)};
            if (step == 0) {
                first = sd.output(batch(tokens, targets), Gpt.LOSS).get(Gpt.LOSS).getDouble(0);
            }
            sd.fit(new MultiDataSet(features, labels));
            last = sd.output(batch(tokens, targets), Gpt.LOSS).get(Gpt.LOSS).getDouble(0);
        }
        assertTrue(first > 2.0, "initial loss " + first + " should be near ln(10)");
        System.out.println("copy task " + positions + ": " + first + " -> " + last);
        assertTrue(last < 0.05, positions + ": loss after 400 steps is " + last + " (started at " + first + ")");
    }
}
