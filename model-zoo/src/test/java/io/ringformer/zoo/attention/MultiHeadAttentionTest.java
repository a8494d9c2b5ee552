package io.ringformer.zoo.attention;

import static io.ringformer.zoo.GradientCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.GradientCheck;
import io.ringformer.zoo.Initializer;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** B=3, T=7, S=5, d=24, H=4 (dh=6), memory width 10: no two sizes alike. */
class MultiHeadAttentionTest {

    static final int B = 3, T = 7, S = 5, D = 24, H = 4, MEMORY_WIDTH = 10;
    static final double[][] KEEP = {{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}, {1, 1, 0, 0, 0, 0, 0}};
    static final double[][] MEMORY_KEEP = {{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}, {1, 0, 0, 0, 0}};

    /** A self-attention layer in a fresh graph, x a trainable variable so gradients reach it. */
    record SelfGraph(SameDiff sd, MultiHeadAttention.Output out, MultiHeadAttention.SelfWeights w) {
        static SelfGraph build(PositionType positions, boolean causal, DataType type, double[][] keep) {
            SameDiff sd = SameDiff.create();
            MultiHeadAttention mha = new MultiHeadAttention(new MultiHeadAttention.Spec(D, H, causal, positions, 0));
            Initializer init = new Initializer(5, type);
            MultiHeadAttention.SelfWeights w = new MultiHeadAttention.SelfWeights(
                    sd.var("w_qkv", init.normal(0.3, D, 3 * D)), sd.var("b_qkv", init.normal(0.1, 3 * D)),
                    sd.var("w_out", init.normal(0.3, D, D)), sd.var("b_out", init.normal(0.1, D)));
            SDVariable x = sd.var("x", uniform(9, type, B * T, D));
            SDVariable keepMask = keep == null ? null : sd.constant(Nd4j.createFromArray(keep).castTo(type));
            return new SelfGraph(sd, mha.selfAttention(sd, "attn", x, T, keepMask, w, null), w);
        }

        double[][] matrix(String name) {
            return sd.getArrForVarName(name).castTo(DataType.DOUBLE).toDoubleMatrix();
        }

        double[] vector(String name) {
            return sd.getArrForVarName(name).castTo(DataType.DOUBLE).toDoubleVector();
        }
    }

    @ParameterizedTest
    @CsvSource({"LEARNED,false", "LEARNED,true", "ROPE,false", "ROPE,true", "ALIBI,false", "ALIBI,true"})
    void selfAttentionMatchesReference(PositionType positions, boolean causal) {
        SelfGraph g = SelfGraph.build(positions, causal, DataType.FLOAT, KEEP);
        double[][] expected = new double[B * T][];
        AttentionReference.Attended reference = AttentionReference.selfAttention(g.matrix("x"), B, T,
                new MultiHeadAttention.Spec(D, H, causal, positions, 0), g.matrix("w_qkv"), g.vector("b_qkv"),
                g.matrix("w_out"), g.vector("b_out"), KEEP, expected);
        Map<String, INDArray> out = g.sd().output(Map.of(), g.out().rows().name(), g.out().weights().name());
        double rowsError = AttentionReference.maxDifference(expected, out.get(g.out().rows().name()));
        double weightsError = AttentionReference.maxDifference(reference.weights(), out.get(g.out().weights().name()));
        assertTrue(rowsError < 1e-5, "outputs differ by " + rowsError);
        assertTrue(weightsError < 1e-5, "weights differ by " + weightsError);
    }

    @ParameterizedTest
    @EnumSource(value = PositionType.class, names = {"LEARNED", "ROPE", "ALIBI"})
    void selfAttentionGradientsMatchFiniteDifferences(PositionType positions) {
        SelfGraph g = SelfGraph.build(positions, true, DataType.DOUBLE, KEEP);
        String loss = GradientCheck.projectToScalar(g.sd(), g.out().rows(), 3, B * T, D);
        GradientCheck.check(g.sd(), loss, Map.of(), 40, "x", "w_qkv", "b_qkv", "w_out", "b_out");
    }

    @ParameterizedTest
    @EnumSource(value = PositionType.class, names = {"LEARNED", "ROPE", "ALIBI"})
    void causalOutputsIgnoreTheFuture(PositionType positions) {
        SelfGraph g = SelfGraph.build(positions, true, DataType.FLOAT, null);
        INDArray before = g.out().rows().eval().dup();
        int changed = 4;
        for (int b = 0; b < B; b++) {
            g.sd().getArrForVarName("x").getRow(b * T + changed).addi(1.0);
        }
        INDArray after = g.out().rows().eval();
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                INDArray was = before.getRow(b * T + t);
                INDArray is = after.getRow(b * T + t);
                if (t < changed) {
                    assertEquals(was, is, "output " + t + " saw token " + changed);
                } else {
                    assertNotEquals(was, is, "output " + t + " should see token " + changed);
                }
            }
        }
    }

    @Test
    void paddedKeysDoNotInfluenceRealPositions() {
        SelfGraph g = SelfGraph.build(PositionType.ROPE, false, DataType.FLOAT, KEEP);
        INDArray weights = g.out().weights().eval();
        for (int h = 0; h < H; h++) {
            for (int t = 0; t < T; t++) {
                for (int s = 2; s < T; s++) {
                    assertEquals(0.0, weights.getDouble(2, h, t, s), "padded key " + s + " got weight");
                }
            }
        }
        INDArray before = g.out().rows().eval().dup();
        g.sd().getArrForVarName("x").getRow(2 * T + 5).addi(3.0);                // a padded position of row 2
        INDArray after = g.out().rows().eval();
        for (int t = 0; t < 2; t++) {
            assertEquals(before.getRow(2 * T + t), after.getRow(2 * T + t));
        }
        assertTrue(GradientCheck.allFinite(after), "padded query rows produced NaN");
    }

    /** Cross-attention: queries [B·T, d] against a memory [B·S, dₘ] with its own padding. */
    record CrossGraph(SameDiff sd, MultiHeadAttention.Output out) {
        static CrossGraph build(DataType type) {
            SameDiff sd = SameDiff.create();
            MultiHeadAttention mha = new MultiHeadAttention(
                    new MultiHeadAttention.Spec(D, H, false, PositionType.LEARNED, 0));
            Initializer init = new Initializer(6, type);
            MultiHeadAttention.CrossWeights w = new MultiHeadAttention.CrossWeights(
                    sd.var("w_q", init.normal(0.3, D, D)), sd.var("b_q", init.normal(0.1, D)),
                    sd.var("w_kv", init.normal(0.3, MEMORY_WIDTH, 2 * D)), sd.var("b_kv", init.normal(0.1, 2 * D)),
                    sd.var("w_out", init.normal(0.3, D, D)), sd.var("b_out", init.normal(0.1, D)));
            SDVariable x = sd.var("x", uniform(1, type, B * T, D));
            SDVariable memory = sd.var("memory", uniform(2, type, B * S, MEMORY_WIDTH));
            SDVariable keep = sd.constant(Nd4j.createFromArray(MEMORY_KEEP).castTo(type));
            return new CrossGraph(sd, mha.crossAttention(sd, "cross", x, T, memory, S, keep, w, null));
        }

        double[][] matrix(String name) {
            return sd.getArrForVarName(name).castTo(DataType.DOUBLE).toDoubleMatrix();
        }

        double[] vector(String name) {
            return sd.getArrForVarName(name).castTo(DataType.DOUBLE).toDoubleVector();
        }
    }

    @Test
    void crossAttentionMatchesReference() {
        CrossGraph g = CrossGraph.build(DataType.FLOAT);
        int dh = D / H;
        double[][] q = AttentionReference.linear(g.matrix("x"), g.matrix("w_q"), g.vector("b_q"));
        double[][] kv = AttentionReference.linear(g.matrix("memory"), g.matrix("w_kv"), g.vector("b_kv"));
        AttentionReference.Attended attended = AttentionReference.attention(
                AttentionReference.heads(q, B, T, H, dh, 0),
                AttentionReference.heads(kv, B, S, H, dh, 0),
                AttentionReference.heads(kv, B, S, H, dh, 1),
                AttentionReference.bias(B, H, T, S, false, false, MEMORY_KEEP));
        double[][] expected = AttentionReference.linear(AttentionReference.merge(attended.values()),
                g.matrix("w_out"), g.vector("b_out"));
        Map<String, INDArray> out = g.sd().output(Map.of(), g.out().rows().name(), g.out().weights().name());
        assertTrue(AttentionReference.maxDifference(expected, out.get(g.out().rows().name())) < 1e-5);
        assertTrue(AttentionReference.maxDifference(attended.weights(), out.get(g.out().weights().name())) < 1e-5);
        assertEquals(0.0, out.get(g.out().weights().name()).getDouble(1, 0, 0, 4), "padded memory key");
    }

    @Test
    void crossAttentionGradientsMatchFiniteDifferences() {
        CrossGraph g = CrossGraph.build(DataType.DOUBLE);
        String loss = GradientCheck.projectToScalar(g.sd(), g.out().rows(), 4, B * T, D);
        GradientCheck.check(g.sd(), loss, Map.of(), 40, "x", "memory", "w_q", "b_q", "w_kv", "b_kv", "w_out",
                "b_out");
    }
}
