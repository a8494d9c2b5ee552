package io.ringformer.zoo.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.attention.AttentionTypes;
import io.ringformer.zoo.attention.MemoryEfficientAttention;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.fused.Kernels;
import io.ringformer.zoo.fused.ScalarKernels;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The fused BERT step against the graph: same parameters and batch, the same loss, every metric and every gradient
 * (normwise within 1e-5 per parameter tensor, as FusedGptTest explains), on non-square sizes with padding.
 */
class FusedBertTest {

    private static final double TOLERANCE = 1e-5;

    /** A model and its flat parameters in the trainer's layout. */
    private record Case(Bert bert, Map<String, Integer> offsets, float[] flat) {
        static Case of(Bert.Config config) {
            Bert bert = Bert.build(config, DataType.FLOAT, 7, false);
            SameDiff sd = bert.graph();
            Map<String, Integer> offsets = new LinkedHashMap<>();
            int size = 0;
            for (String name : bert.parameterNames()) {
                offsets.put(name, size);
                size += (int) sd.getArrForVarName(name).length();
            }
            float[] flat = new float[size];
            for (String name : bert.parameterNames()) {
                float[] array = sd.getArrForVarName(name).dup().data().asFloat();
                System.arraycopy(array, 0, flat, offsets.get(name), array.length);
            }
            return new Case(bert, offsets, flat);
        }

        FusedBert fused(int sequences, boolean bf16, Kernels kernels) {
            return fused(bert.config(), sequences, bf16, kernels);
        }

        /** The fused model of another config with the same parameters (another attention type). */
        FusedBert fused(Bert.Config config, int sequences, boolean bf16, Kernels kernels) {
            FusedBert model = new FusedBert(config, offsets, flat.length, sequences, bf16, kernels);
            model.setParameters(flat);
            return model;
        }
    }

    @Test
    void lossMetricsAndEveryGradientEqualTheGraphs() {
        // T 8 with 0, 2 and 3 pads; V 13; d 12 in 3 heads of 4; two layers.
        check(Case.of(new Bert.Config(BertTest.V, BertTest.T, 2, 3, 12, 0)), BertTest.batch(), 0, 3, Kernels.best());
    }

    @Test
    void memoryEfficientAttentionOverPaddedKeysEqualsFull() {
        // T 8 in chunks of 3 (3 + 3 + 2): a row with 3 pads has a last chunk of padding only
        Case c = Case.of(new Bert.Config(BertTest.V, BertTest.T, 2, 3, 12, 0));
        Bert.Config config = c.bert().config();
        check(c, new Bert.Config(config.vocabSize(), config.seqLen(), config.layers(), config.heads(), config.width(),
                0, new MemoryEfficientAttention.Chunked(3)), BertTest.batch(), 0, 3, Kernels.best());
    }

    @Test
    void linearAttentionOverPaddedKeysEqualsItsGraph() {
        check(Case.of(new Bert.Config(BertTest.V, BertTest.T, 2, 3, 12, 0, AttentionTypes.named("linear")
                .configure(null))), BertTest.batch(), 0, 3, Kernels.best());
    }

    @Test
    void theScalarKernelsGiveTheSameStep() {
        check(Case.of(new Bert.Config(BertTest.V, BertTest.T, 1, 2, 8, 0)), BertTest.batch(), 0, 3,
                new ScalarKernels());
    }

    @Test
    void onARealBatchOfMobyDickFromAnOffset() {
        // 32 tokens of real sentence pairs, some padded; rows [2, 9) of 10, so the call starts inside the batch.
        Batch batch = SentencePairsTest.trainBatch(10, 3);
        int pads = 0;
        for (float keep : batch.floats(Bert.MASK)) {
            pads += keep == 0 ? 1 : 0;
        }
        assertTrue(pads > 0, "the batch has no padding; the case tests less than it claims");
        check(Case.of(new Bert.Config(SentencePairsTest.TOKENIZER.vocabSize(), 32, 2, 4, 32, 0)), batch, 2, 7,
                Kernels.best());
    }

    @Test
    void bf16StaysCloseToFp32() {
        // bf16 rounds every GEMM operand to 8 bits of significand (≤ 2⁻⁹ relative); the loss moves by far less than
        // 1% and each gradient by a few tenths of a percent normwise.
        Batch batch = SentencePairsTest.trainBatch(6, 1);
        Case c = Case.of(new Bert.Config(SentencePairsTest.TOKENIZER.vocabSize(), 32, 2, 4, 32, 0));
        FusedBert fp32 = c.fused(6, false, Kernels.best());
        FusedBert bf16 = c.fused(6, true, Kernels.best());
        double loss32 = fp32.trainStep(batch, 0, 6, 1f);
        double loss16 = bf16.trainStep(batch, 0, 6, 1f);
        assertEquals(loss32, loss16, 1e-2 * loss32);
        float[] g32 = new float[c.flat().length];
        float[] g16 = new float[c.flat().length];
        fp32.addGradients(g32);
        bf16.addGradients(g16);
        double relative = relativeDifference(g16, 0, g32);
        assertTrue(relative < 0.02, "bf16 gradient differs from fp32 by " + relative);
        assertTrue(relative > 0, "bf16 gave bit-identical gradients: the bf16 path did not run");
    }

    @Test
    void aBatchWhoseMlmWeightsDifferIsRefused() {
        Case c = Case.of(new Bert.Config(BertTest.V, BertTest.T, 1, 2, 8, 0));
        Batch batch = BertTest.batch();
        batch.floats(Bert.MLM_WEIGHTS)[BertTest.T + 2] = 0.5f;                 // row 1's masked token
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> c.fused(3, false, Kernels.best()).trainStep(batch, 0, 3, 1f));
        assertTrue(error.getMessage().contains("MLM weights"), error.getMessage());
    }

    @Test
    void aModelWithDropoutIsRefused() {
        Case c = Case.of(new Bert.Config(BertTest.V, BertTest.T, 1, 2, 8, 0));
        assertThrows(IllegalArgumentException.class, () -> new FusedBert(new Bert.Config(BertTest.V, BertTest.T, 1,
                2, 8, 0.1), c.offsets(), c.flat().length, 3, false, Kernels.best()));
    }

    private static void check(Case c, Batch batch, int first, int count, Kernels kernels) {
        check(c, c.bert().config(), batch, first, count, kernels);
    }

    /** The fused model of {@code fusedConfig} on c's parameters against c's graph. */
    private static void check(Case c, Bert.Config fusedConfig, Batch batch, int first, int count, Kernels kernels) {
        Bert bert = c.bert();
        SameDiff sd = bert.graph();
        Map<String, INDArray> feed = bert.feed(batch, first, count);
        List<String> sums = List.of(Bert.LOSS_SUM, Bert.ROWS, Bert.MLM_LOSS_SUM, Bert.MASKED, Bert.MLM_CORRECT,
                Bert.MASKED, Bert.NSP_CORRECT, Bert.ROWS);
        Map<String, INDArray> out = sd.output(feed, List.of(Bert.LOSS, Bert.LOSS_SUM, Bert.ROWS, Bert.MLM_LOSS_SUM,
                Bert.MASKED, Bert.MLM_CORRECT, Bert.NSP_CORRECT));
        Map<String, INDArray> gradients = sd.calculateGradients(feed, bert.parameterNames());
        FusedBert fused = c.fused(fusedConfig, count, false, kernels);
        double expectedLoss = out.get(Bert.LOSS).getDouble(0);
        float scale = 3f;
        assertEquals(expectedLoss, fused.trainStep(batch, first, count, scale), TOLERANCE * expectedLoss, "loss");
        double[] metrics = fused.evaluate(batch, first, count);
        for (int i = 0; i < sums.size(); i++) {
            double expected = out.get(sums.get(i)).getDouble(0);
            assertEquals(expected, metrics[i], TOLERANCE * Math.max(1, Math.abs(expected)), sums.get(i));
        }
        float[] gradient = new float[c.flat().length];
        fused.addGradients(gradient);
        for (String name : bert.parameterNames()) {
            float[] expected = gradients.get(name).dup().data().asFloat();
            float[] scaled = new float[expected.length];
            for (int i = 0; i < expected.length; i++) {
                scaled[i] = scale * expected[i];
            }
            double relative = relativeDifference(gradient, c.offsets().get(name), scaled);
            assertTrue(relative <= TOLERANCE, name + ": ‖fused − graph‖/‖graph‖ = " + relative);
        }
    }

    /** ‖actual[offset, offset + n) − expected‖ / ‖expected‖, expected of n values. */
    private static double relativeDifference(float[] actual, int offset, float[] expected) {
        double difference = 0;
        double norm = 0;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[offset + i];
            difference += (a - e) * (a - e);
            norm += e * e;
        }
        assertTrue(norm > 0, "a zero gradient in the reference; the case tests nothing");
        return Math.sqrt(difference / norm);
    }
}
