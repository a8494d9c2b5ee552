package io.ringformer.zoo.t5;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.GradientCheck;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.family.Batch;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class T5Test {

    static final int V = 11;
    static final int S = 6;
    static final int T = 5;

    /** Two layers per stack, S ≠ T, 8 buckets up to distance 6: exact and logarithmic buckets both occur. */
    static T5.Config config(double dropout) {
        return new T5.Config(V, S, T, 2, 2, 8, 12, dropout, 8, 6, 0);
    }

    /**
     * Three rows: sources of 6, 4 and 3 real tokens (EOS = 1 last), targets of 5, 3 and 4 real tokens; the decoder
     * reads the targets shifted right behind the pad id 0; padded targets are −1, real ones weigh B / N = 3/12.
     */
    static Batch batch() {
        SplittableRandom random = new SplittableRandom(7);
        int[] sourceReal = {6, 4, 3};
        int[] targetReal = {5, 3, 4};
        Batch batch = new Batch(T5.layout(S, T), 3);
        java.util.Arrays.fill(batch.ints(T5.TARGETS), Seq2SeqBatch.NO_TARGET);
        for (int b = 0; b < 3; b++) {
            for (int s = 0; s < sourceReal[b]; s++) {
                batch.ints(T5.ENCODER_TOKENS)[b * S + s] = s == sourceReal[b] - 1 ? 1 : 2 + random.nextInt(V - 2);
                batch.floats(T5.ENCODER_MASK)[b * S + s] = 1;
            }
            for (int t = 0; t < targetReal[b]; t++) {
                int target = t == targetReal[b] - 1 ? 1 : 2 + random.nextInt(V - 2);
                batch.ints(T5.TARGETS)[b * T + t] = target;
                batch.floats(T5.TARGET_MASK)[b * T + t] = 1;
                batch.floats(T5.TARGET_WEIGHTS)[b * T + t] = 3f / 12;
                if (t + 1 < T) {
                    batch.ints(T5.DECODER_TOKENS)[b * T + t + 1] = target;
                }
            }
        }
        return batch;
    }

    /** T5's published bucket function (HF's and mesh-tensorflow's), worked out for a table of distances. */
    @Test
    void bucketsAreT5sOnATableOfDistances() {
        int[] distances = {-200, -128, -127, -64, -33, -32, -20, -16, -15, -9, -8, -7, -1, 0, 1, 7, 8, 9, 15, 16, 20,
            32, 64, 127, 128, 200};
        // 32 buckets, max distance 128. Bidirectional: 16 a side, 8 exact; e.g. key 20 before the query:
        // 8 + ⌊log(20/8) / log(128/8) · 8⌋ = 8 + ⌊2.64⌋ = 10; 20 after: 16 + 10 = 26.
        int[] bidirectional = {15, 15, 15, 14, 12, 12, 10, 10, 9, 8, 8, 7, 1, 0, 17, 23, 24, 24, 25, 26, 26, 28, 30,
            31, 31, 31};
        // One-directional: 32 buckets for keys at or before the query, 16 exact; 64 back: 16 + ⌊log 4 / log 8 · 16⌋
        // = 16 + ⌊10.67⌋ = 26; keys after the query all fall in bucket 0.
        int[] causal = {31, 31, 31, 26, 21, 21, 17, 16, 15, 9, 8, 7, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        for (int i = 0; i < distances.length; i++) {
            assertEquals(bidirectional[i], RelativePositions.bucket(distances[i], true, 32, 128), "bidirectional "
                    + distances[i]);
            assertEquals(causal[i], RelativePositions.bucket(distances[i], false, 32, 128), "causal " + distances[i]);
        }
    }

    /** The graph's bias [1, H, T, S] is the table's row of each (query, key) pair's bucket, head by head. */
    @Test
    void theRelativeBiasIsTheTablesRowOfEachPairsBucket() {
        int heads = 3;
        int buckets = 8;
        INDArray table = GradientCheck.uniform(3, DataType.DOUBLE, buckets, heads);
        SameDiff sd = SameDiff.create();
        SDVariable bias = RelativePositions.bias(sd, "bias", sd.var("table", table), T, S, true, 6);
        INDArray out = bias.eval();
        assertEquals(List.of(1L, (long) heads, (long) T, (long) S), List.of(out.shape()[0], out.shape()[1],
                out.shape()[2], out.shape()[3]));
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < T; i++) {
                for (int j = 0; j < S; j++) {
                    double expected = table.getDouble(RelativePositions.bucket(j - i, true, buckets, 6), h);
                    assertEquals(expected, out.getDouble(0, h, i, j), 0, "head " + h + " query " + i + " key " + j);
                }
            }
        }
    }

    /**
     * Every parameter, through the whole model: both relative-bias tables, RMSNorm gains, self- and cross-attention
     * (S ≠ T; the shared layer has its own reference test in MultiHeadAttentionTest), the ReLU feed-forward and the
     * tied, rescaled head.
     */
    @Test
    void gradientsOfEveryParameterMatchFiniteDifferences() {
        T5 t5 = T5.build(config(0), DataType.DOUBLE, 3, false, MixedPrecision.FP32);
        List<String> names = t5.parameterNames();
        assertTrue(names.containsAll(List.of("shared", "encoder/relative_bias", "decoder/relative_bias",
                "decoder/1/cross/w_kv", "encoder/0/mlp/w_in", "decoder/norm_f/gain")), names::toString);
        GradientCheck.check(t5.graph(), T5.LOSS, new HashMap<>(t5.feed(batch(), 0, 3)), 6,
                names.toArray(String[]::new));
    }

    @Test
    void gradientsWithDropoutMatchFiniteDifferencesOnceTheNoiseIsFixed() {
        T5 t5 = T5.build(new T5.Config(V, S, T, 1, 2, 8, 12, 0.2, 8, 6, 0), DataType.DOUBLE, 4, true,
                MixedPrecision.FP32);
        Map<String, INDArray> feed = new HashMap<>(t5.feed(batch(), 0, 3));
        feed.putAll(t5.dropoutNoise(5, 1, 0, 3));
        GradientCheck.check(t5.graph(), T5.LOSS, feed, 4, t5.parameterNames().toArray(String[]::new));
    }

    /** With sinusoids on both stacks' embeddings and cross-attention's own relative bias (S ≠ T), not in T5. */
    @Test
    void gradientsWithAbsolutePositionsAndACrossBiasMatchFiniteDifferences() {
        T5 t5 = T5.build(new T5.Config(V, S, T, 1, 2, 8, 12, 0, 8, 6, 0, true, true, 4), DataType.DOUBLE, 8, false,
                MixedPrecision.FP32);
        GradientCheck.check(t5.graph(), T5.LOSS, new HashMap<>(t5.feed(batch(), 0, 3)), 4,
                t5.parameterNames().toArray(String[]::new));
    }

    /** Changing the decoder's input at position 3 leaves the logits of positions 0–2 exactly as they were. */
    @Test
    void theDecoderDoesNotSeeTheFuture() {
        T5 t5 = T5.build(config(0), DataType.FLOAT, 4, false, MixedPrecision.FP32);
        Batch batch = batch();
        INDArray before = logits(t5, batch, 0);
        batch.ints(T5.DECODER_TOKENS)[3] = (batch.ints(T5.DECODER_TOKENS)[3] + 1) % V;
        INDArray after = logits(t5, batch, 0);
        for (int t = 0; t < T; t++) {
            double change = before.getRow(t).sub(after.getRow(t)).amaxNumber().doubleValue();
            if (t < 3) {
                assertEquals(0, change, 0, "position " + t + " saw the future");
            } else {
                assertTrue(change > 1e-4, "position " + t + " must see its own input");
            }
        }
    }

    /** A padded source token changes no logit, bit for bit; a real one changes them. */
    @Test
    void paddedSourceTokensChangeNothing() {
        T5 t5 = T5.build(config(0), DataType.FLOAT, 4, false, MixedPrecision.FP32);
        Batch batch = batch();
        INDArray before = logits(t5, batch, 2);
        batch.ints(T5.ENCODER_TOKENS)[2 * S + 4] = 7;                                    // row 2 is 3 tokens long
        assertEquals(0, before.sub(logits(t5, batch, 2)).amaxNumber().doubleValue(), 0);
        batch.ints(T5.ENCODER_TOKENS)[2 * S + 1] = (batch.ints(T5.ENCODER_TOKENS)[2 * S + 1] + 1) % V;
        assertTrue(before.sub(logits(t5, batch, 2)).amaxNumber().doubleValue() > 1e-4);
    }

    /** A row's logits depend on its own source and decoder input only, not on another row's. */
    @Test
    void rowsDoNotSeeEachOther() {
        T5 t5 = T5.build(config(0), DataType.FLOAT, 4, false, MixedPrecision.FP32);
        Batch batch = batch();
        INDArray row0 = logits(t5, batch, 0);
        INDArray row2 = logits(t5, batch, 2);
        batch.ints(T5.ENCODER_TOKENS)[2 * S + 1] = (batch.ints(T5.ENCODER_TOKENS)[2 * S + 1] + 1) % V;
        batch.ints(T5.DECODER_TOKENS)[2 * T + 2] = (batch.ints(T5.DECODER_TOKENS)[2 * T + 2] + 1) % V;
        assertEquals(0, row0.sub(logits(t5, batch, 0)).amaxNumber().doubleValue(), 0, "row 0 saw row 2");
        assertTrue(row2.sub(logits(t5, batch, 2)).amaxNumber().doubleValue() > 1e-4);
    }

    /**
     * Rows split among ranks add up: the loss of rows [0, 1) times 1/3 plus that of [1, 3) times 2/3 is the whole
     * batch's, and so is the gradient — the data's weights B / N count real targets over the global batch.
     */
    @Test
    void twoPartsOfABatchGiveTheWholeBatchsLossAndGradient() {
        T5 t5 = T5.build(config(0), DataType.DOUBLE, 5, false, MixedPrecision.FP32);
        Batch batch = batch();
        SameDiff sd = t5.graph();
        double whole = loss(sd, t5.feed(batch, 0, 3));
        double parts = loss(sd, t5.feed(batch, 0, 1)) / 3 + loss(sd, t5.feed(batch, 1, 2)) * 2 / 3;
        assertEquals(whole, parts, 1e-12);
        INDArray gradient = sd.calculateGradients(t5.feed(batch, 0, 3), "shared").get("shared").dup();
        INDArray split = sd.calculateGradients(t5.feed(batch, 0, 1), "shared").get("shared").mul(1.0 / 3)
                .add(sd.calculateGradients(t5.feed(batch, 1, 2), "shared").get("shared").mul(2.0 / 3));
        assertEquals(0, gradient.sub(split).amaxNumber().doubleValue(), 1e-12);
        // the objective: the mean cross-entropy per real target token (12 of them)
        Map<String, INDArray> out = sd.output(t5.feed(batch, 0, 3), T5.TOKEN_LOSS_SUM, T5.TOKENS);
        assertEquals(12, out.get(T5.TOKENS).getDouble(), 0);
        assertEquals(out.get(T5.TOKEN_LOSS_SUM).getDouble() / 12, whole, 1e-12);
    }

    /**
     * Label smoothing ε = 0.1 against a plain computation from the graph's own logits: per real target,
     * −Σᵥ q_v · log p_v with q = (1 − ε) · one-hot + ε / V, weighted by the data's weights and averaged over the rows;
     * token_loss stays the plain cross-entropy, exactly as without smoothing.
     */
    @Test
    void labelSmoothingIsTheCrossEntropyAgainstTheSmoothedTarget() {
        double epsilon = 0.1;
        T5 plain = T5.build(config(0), DataType.DOUBLE, 6, false, MixedPrecision.FP32);
        T5 smoothed = T5.build(new T5.Config(V, S, T, 2, 2, 8, 12, 0, 8, 6, epsilon), DataType.DOUBLE, 6, false,
                MixedPrecision.FP32);
        Batch batch = batch();
        Map<String, INDArray> out = smoothed.graph().output(smoothed.feed(batch, 0, 3), T5.LOGITS, T5.LOSS,
                T5.TOKEN_LOSS_SUM);
        INDArray logits = out.get(T5.LOGITS);                                                  // [3·T, V]
        double expected = 0;
        double plainSum = 0;
        for (int i = 0; i < 3 * T; i++) {
            int target = batch.ints(T5.TARGETS)[i];
            if (target == Seq2SeqBatch.NO_TARGET) {
                continue;
            }
            double[] row = logits.getRow(i).toDoubleVector();
            double max = java.util.Arrays.stream(row).max().orElseThrow();
            double logSum = max + Math.log(java.util.Arrays.stream(row).map(l -> Math.exp(l - max)).sum());
            double smoothedCe = 0;
            for (int v = 0; v < V; v++) {
                double q = (v == target ? 1 - epsilon : 0) + epsilon / V;
                smoothedCe -= q * (row[v] - logSum);
            }
            expected += batch.floats(T5.TARGET_WEIGHTS)[i] * smoothedCe;
            plainSum += logSum - row[target];
        }
        assertEquals(expected / 3, out.get(T5.LOSS).getDouble(), 1e-10);
        assertEquals(plainSum, out.get(T5.TOKEN_LOSS_SUM).getDouble(), 1e-10);
        double unsmoothed = plain.graph().output(plain.feed(batch, 0, 3), T5.TOKEN_LOSS_SUM).get(T5.TOKEN_LOSS_SUM)
                .getDouble();
        assertEquals(unsmoothed, plainSum, 1e-10, "same seed, same parameters: the same plain cross-entropy");
        assertTrue(out.get(T5.LOSS).getDouble() > plainSum / 12, "smoothing adds the uniform part's cost here");
    }

    @Test
    void gradientsWithLabelSmoothingMatchFiniteDifferences() {
        T5 t5 = T5.build(new T5.Config(V, S, T, 1, 2, 8, 12, 0, 8, 6, 0.2), DataType.DOUBLE, 7, false,
                MixedPrecision.FP32);
        GradientCheck.check(t5.graph(), T5.LOSS, new HashMap<>(t5.feed(batch(), 0, 3)), 4,
                t5.parameterNames().toArray(String[]::new));
    }

    private static double loss(SameDiff sd, Map<String, INDArray> feed) {
        return sd.output(feed, T5.LOSS).get(T5.LOSS).getDouble();
    }

    /** A row's logits, [T, V]. */
    private static INDArray logits(T5 t5, Batch batch, int row) {
        INDArray all = t5.graph().output(t5.feed(batch, 0, 3), T5.LOGITS).get(T5.LOGITS);      // [3·T, V]
        return all.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(row * T, (row + 1) * T),
                org.nd4j.linalg.indexing.NDArrayIndex.all()).dup();
    }
}
