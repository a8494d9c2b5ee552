package io.ringformer.zoo.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.GradientCheck;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.family.Model;
import io.ringformer.zoo.family.Split;
import io.ringformer.zoo.text.WordPieceTokenizer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class BertTest {

    static final int V = 13;
    static final int T = 8;

    /**
     * Three rows of T = 8: row 0 fills every position, row 1 has 2 pads, row 2 has 3. Segments 0 up to the first
     * [SEP] (position 3), 1 after; MLM targets at a few positions with the weights B / M; NSP labels 1, 0, 1.
     */
    static Batch batch() {
        SplittableRandom random = new SplittableRandom(1);
        int[] real = {8, 6, 5};
        Batch batch = new Batch(Bert.layout(T), 3);
        int[] tokens = batch.ints(Bert.TOKENS);
        int[] targets = batch.ints(Bert.MLM_TARGETS);
        java.util.Arrays.fill(targets, -1);
        for (int b = 0; b < 3; b++) {
            for (int t = 0; t < real[b]; t++) {
                tokens[b * T + t] = t == 0 ? WordPieceTokenizer.CLS_ID : t == 3 || t == real[b] - 1
                        ? WordPieceTokenizer.SEP_ID : 5 + random.nextInt(V - 5);
                batch.ints(Bert.SEGMENTS)[b * T + t] = t > 3 ? 1 : 0;
                batch.floats(Bert.MASK)[b * T + t] = 1;
            }
        }
        int[][] chosen = {{1, 5}, {2}, {4}};
        for (int b = 0; b < 3; b++) {
            for (int t : chosen[b]) {
                targets[b * T + t] = tokens[b * T + t];
                tokens[b * T + t] = WordPieceTokenizer.MASK_ID;
                batch.floats(Bert.MLM_WEIGHTS)[b * T + t] = 3f / 4;
            }
        }
        batch.ints(Bert.NSP_LABEL)[0] = 1;
        batch.ints(Bert.NSP_LABEL)[2] = 1;
        return batch;
    }

    static Map<String, INDArray> feed(Bert bert) {
        return new HashMap<>(bert.feed(batch(), 0, 3));
    }

    /** Every parameter: segment embeddings, the padded encoder, the MLM head (tied, biased) and the NSP head. */
    @Test
    void gradientsOfEveryParameterMatchFiniteDifferences() {
        Bert bert = Bert.build(new Bert.Config(V, T, 2, 2, 12, 0), DataType.DOUBLE, 3, false);
        List<String> names = bert.parameterNames();
        assertEquals(3 + 2 + 2 * 12 + 2 + 2 + 2 + 1 + 2 + 2, names.size(), names::toString);
        for (String head : List.of("wse", "mlm/w_dense", "mlm/ln/gain", "mlm/bias", "pooler/w", "nsp/w", "nsp/b")) {
            assertTrue(names.contains(head), head);
        }
        GradientCheck.check(bert.graph(), Bert.LOSS, feed(bert), 10, names.toArray(String[]::new));
    }

    @Test
    void gradientsWithDropoutMatchFiniteDifferencesOnceTheNoiseIsFixed() {
        Bert bert = Bert.build(new Bert.Config(V, T, 1, 2, 8, 0.2), DataType.DOUBLE, 4, true);
        assertTrue(bert.hasDropout());
        Map<String, INDArray> feed = feed(bert);
        feed.putAll(bert.dropoutNoise(5, 1, 0, 3));
        GradientCheck.check(bert.graph(), Bert.LOSS, feed, 6, bert.parameterNames().toArray(String[]::new));
    }

    /**
     * A padded position's token and segment change nothing at a real position, nor the [CLS] heads: bit for bit,
     * since a blocked key's weight is exactly 0.
     */
    @Test
    void padsChangeNoRealPositionsOutput() {
        Bert bert = Bert.build(new Bert.Config(V, T, 2, 2, 16, 0), DataType.FLOAT, 4, false);
        Map<String, INDArray> feed = feed(bert);
        Map<String, INDArray> before = bert.graph().output(feed, Bert.HIDDEN, Bert.LOGITS, Bert.NSP_LOGITS);
        INDArray hidden = before.get(Bert.HIDDEN).dup();
        INDArray logits = before.get(Bert.LOGITS).dup();
        INDArray nsp = before.get(Bert.NSP_LOGITS).dup();
        feed.get(Bert.TOKENS).putScalar(1, 7, 9);                       // row 1's pads: positions 6 and 7
        feed.get(Bert.TOKENS).putScalar(1, 6, 11);
        feed.get(Bert.SEGMENTS).putScalar(1, 7, 1);
        Map<String, INDArray> after = bert.graph().output(feed, Bert.HIDDEN, Bert.LOGITS, Bert.NSP_LOGITS);
        for (int row = 0; row < 3 * T; row++) {
            double change = difference(hidden.getRow(row), after.get(Bert.HIDDEN).getRow(row));
            if (row == T + 6 || row == T + 7) {
                assertTrue(change > 0, "the pad itself changed");
            } else {
                assertEquals(0.0, change, "real position " + row % T + " of row " + row / T);
            }
        }
        assertEquals(0.0, difference(logits, after.get(Bert.LOGITS)));
        assertEquals(0.0, difference(nsp, after.get(Bert.NSP_LOGITS)));
        // Without the padding mask the same change reaches the real positions.
        feed.put(Bert.MASK, Nd4j.ones(DataType.FLOAT, 3, T));
        INDArray unmasked = bert.graph().output(feed, Bert.HIDDEN).get(Bert.HIDDEN).dup();
        feed.get(Bert.TOKENS).putScalar(1, 7, 10);
        INDArray seen = bert.graph().output(feed, Bert.HIDDEN).get(Bert.HIDDEN);
        assertTrue(difference(unmasked.getRow(T), seen.getRow(T)) > 0);
    }

    static double difference(INDArray a, INDArray b) {
        return a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
    }

    /** Attention is bidirectional: changing a later token changes an earlier position's output. */
    @Test
    void anEarlierPositionSeesALaterToken() {
        Bert bert = Bert.build(new Bert.Config(V, T, 1, 2, 16, 0), DataType.FLOAT, 4, false);
        Map<String, INDArray> feed = feed(bert);
        INDArray before = bert.graph().output(feed, Bert.HIDDEN).get(Bert.HIDDEN).dup();
        int old = feed.get(Bert.TOKENS).getInt(0, 6);
        feed.get(Bert.TOKENS).putScalar(0, 6, old == 12 ? 11 : 12);
        assertTrue(difference(before.getRow(1), bert.graph().output(feed, Bert.HIDDEN).get(Bert.HIDDEN).getRow(1)) > 0);
    }

    /** Repeated calls give the same loss (M2.1's log_softmax kernel did not: see Bert#logSoftmax). */
    @Test
    void theLossIsTheSameOnEveryCall() {
        Bert bert = Bert.build(new Bert.Config(V, T, 1, 2, 8, 0), DataType.FLOAT, 4, false);
        Map<String, INDArray> feed = feed(bert);
        double first = bert.graph().output(new HashMap<>(feed), Bert.LOSS).get(Bert.LOSS).getDouble(0);
        for (int i = 0; i < 20; i++) {
            assertEquals(first, bert.graph().output(new HashMap<>(feed), Bert.LOSS).get(Bert.LOSS).getDouble(0), 0.0);
        }
    }

    /** The loss and every metric, recomputed from the logits in double precision. */
    @Test
    void lossAndMetricsAreWhatTheyClaim() {
        Bert bert = Bert.build(new Bert.Config(V, T, 2, 2, 16, 0), DataType.FLOAT, 6, false);
        Batch batch = batch();
        Map<String, INDArray> feed = bert.feed(batch, 0, 3);
        List<String> outputs = List.of(Bert.LOGITS, Bert.NSP_LOGITS, Bert.LOSS, Bert.LOSS_SUM, Bert.ROWS,
                Bert.MLM_LOSS_SUM, Bert.MASKED, Bert.MLM_CORRECT, Bert.NSP_CORRECT);
        Map<String, INDArray> out = bert.graph().output(feed, outputs.toArray(String[]::new));
        INDArray logits = out.get(Bert.LOGITS);                        // [M, V]: the masked positions in order
        INDArray nsp = out.get(Bert.NSP_LOGITS);
        int[] targets = batch.ints(Bert.MLM_TARGETS);
        float[] weights = batch.floats(Bert.MLM_WEIGHTS);
        int[] labels = batch.ints(Bert.NSP_LABEL);
        assertEquals(4, logits.rows());
        double lossSum = 0, mlmSum = 0;
        int masked = 0, mlmCorrect = 0, nspCorrect = 0;
        for (int b = 0; b < 3; b++) {
            double rowLoss = 0;
            for (int t = 0; t < T; t++) {
                int i = b * T + t;
                if (targets[i] < 0) {
                    continue;
                }
                double[] row = logits.getRow(masked).toDoubleVector();
                double ce = logSumExp(row) - row[targets[i]];
                rowLoss += weights[i] * ce;
                mlmSum += ce;
                masked++;
                mlmCorrect += argmax(row) == targets[i] ? 1 : 0;
            }
            double[] classes = nsp.getRow(b).toDoubleVector();
            rowLoss += logSumExp(classes) - classes[labels[b]];
            nspCorrect += argmax(classes) == labels[b] ? 1 : 0;
            lossSum += rowLoss;
        }
        assertEquals(lossSum, out.get(Bert.LOSS_SUM).getDouble(0), 1e-5);
        assertEquals(3, out.get(Bert.ROWS).getDouble(0));
        assertEquals(lossSum / 3, out.get(Bert.LOSS).getDouble(0), 1e-5);
        assertEquals(mlmSum, out.get(Bert.MLM_LOSS_SUM).getDouble(0), 1e-5);
        assertEquals(masked, out.get(Bert.MASKED).getDouble(0));
        assertEquals(mlmCorrect, out.get(Bert.MLM_CORRECT).getDouble(0));
        assertEquals(nspCorrect, out.get(Bert.NSP_CORRECT).getDouble(0));
        // With weights B / M the MLM part of the loss is the mean CE over masked tokens.
        assertEquals(mlmSum / masked, (lossSum - nspLoss(nsp, labels)) / 3, 1e-5);
    }

    private static double nspLoss(INDArray nsp, int[] labels) {
        double sum = 0;
        for (int b = 0; b < labels.length; b++) {
            double[] classes = nsp.getRow(b).toDoubleVector();
            sum += logSumExp(classes) - classes[labels[b]];
        }
        return sum;
    }

    private static double logSumExp(double[] row) {
        double max = java.util.Arrays.stream(row).max().orElseThrow();
        return Math.log(java.util.Arrays.stream(row).map(x -> Math.exp(x - max)).sum()) + max;
    }

    private static int argmax(double[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) {
            best = row[i] > row[best] ? i : best;
        }
        return best;
    }

    /**
     * The contract that makes ranks equal one: on a real batch of Moby Dick, the loss of the whole batch equals the
     * rows-weighted mean of the losses of two uneven parts, each fed separately — and so do their gradients.
     */
    @Test
    void twoPartsOfABatchWeightedByRowsGiveTheWholeBatchsLossAndGradient() {
        Batch batch = SentencePairsTest.trainBatch(10, 3);
        Bert bert = Bert.build(new Bert.Config(SentencePairsTest.TOKENIZER.vocabSize(), 32, 2, 2, 32, 0),
                DataType.FLOAT, 2, false);
        SameDiff sd = bert.graph();
        String wte = "wte";
        double whole = sd.output(bert.feed(batch, 0, 10), Bert.LOSS).get(Bert.LOSS).getDouble(0);
        double first = sd.output(bert.feed(batch, 0, 3), Bert.LOSS).get(Bert.LOSS).getDouble(0);
        double rest = sd.output(bert.feed(batch, 3, 7), Bert.LOSS).get(Bert.LOSS).getDouble(0);
        assertEquals(whole, 0.3 * first + 0.7 * rest, 1e-5);
        INDArray gradWhole = sd.calculateGradients(bert.feed(batch, 0, 10), wte).get(wte).dup();
        INDArray gradFirst = sd.calculateGradients(bert.feed(batch, 0, 3), wte).get(wte).dup();
        INDArray gradRest = sd.calculateGradients(bert.feed(batch, 3, 7), wte).get(wte).dup();
        INDArray combined = gradFirst.mul(0.3).add(gradRest.mul(0.7));
        assertTrue(gradWhole.sub(combined).amaxNumber().doubleValue() < 1e-6,
                "gradient differs by " + gradWhole.sub(combined).amaxNumber());
        assertTrue(whole > Math.log(2) && whole < Math.log(SentencePairsTest.TOKENIZER.vocabSize()) + 1.5,
                "an untrained model's loss ≈ ln V + ln 2: " + whole);
    }

    @Test
    void weightDecayTouchesMatricesButNotTablesOfOffsets() {
        Bert bert = Bert.build(new Bert.Config(V, T, 1, 1, 8, 0), DataType.FLOAT, 1, false);
        List<String> decayed = bert.parameterNames().stream().filter(bert::decays).sorted().toList();
        assertEquals(List.of("h0/attn/w_out", "h0/attn/w_qkv", "h0/mlp/w_fc", "h0/mlp/w_proj", "mlm/w_dense", "nsp/w",
                "pooler/w", "wte"), decayed);
    }

    @Test
    void theFamilyCountsItsParametersAndTrainsFusedWithoutDropout() {
        BertFamily family = new BertFamily();
        io.ringformer.zoo.family.MapSettings settings = io.ringformer.zoo.family.MapSettings.defaults(family.keys());
        settings.values().put("model.n_layer", 3);
        Model model = family.build(settings, SentencePairsTest.TOKENIZER, 1, false, MixedPrecision.FP32);
        long count = model.parameterNames().stream()
                .mapToLong(name -> model.graph().getArrForVarName(name).length()).sum();
        assertEquals(count, family.footprint(settings, SentencePairsTest.TOKENIZER).parameters(), 0.0);
        assertNull(model.fusedGap(MixedPrecision.FP32));
        settings.values().put("model.dropout", 0.1);
        Model withDropout = family.build(settings, SentencePairsTest.TOKENIZER, 1, true, MixedPrecision.FP32);
        assertEquals("dropout (model.dropout 0.1)", withDropout.fusedGap(MixedPrecision.FP32));
        assertFalse(model.hasDropout());
        assertEquals(List.of("loss", "mlm_loss", "mlm_accuracy", "nsp_accuracy"),
                model.metrics().stream().map(Model.Metric::name).toList());
    }
}
