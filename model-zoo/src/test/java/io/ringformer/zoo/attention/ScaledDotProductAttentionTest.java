package io.ringformer.zoo.attention;

import static io.ringformer.zoo.GradientCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.GradientCheck;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Non-square sizes throughout (B=3, H=4, T=7, S=5, dh=6), so a transposed axis cannot pass by accident. */
class ScaledDotProductAttentionTest {

    static final int B = 3, H = 4, T = 7, S = 5, DH = 6;

    @Test
    void matchesReferenceWithCausalAndPaddingBias() {
        INDArray q = uniform(1, DataType.FLOAT, B, H, T, DH);
        INDArray k = uniform(2, DataType.FLOAT, B, H, S, DH);
        INDArray v = uniform(3, DataType.FLOAT, B, H, S, DH);
        double[][] keep = {{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}, {1, 0, 0, 0, 0}};

        SameDiff sd = SameDiff.create();
        SDVariable keepMask = sd.constant(Nd4j.createFromArray(keep).castTo(DataType.FLOAT));
        SDVariable bias = sd.constant(Nd4j.createFromArray(AttentionMasks.causal(T, S))).add(
                AttentionMasks.padding(sd, keepMask, S));                                   // [B, 1, T, S]
        ScaledDotProductAttention.Output out = ScaledDotProductAttention.apply(sd, "sdpa",
                sd.constant(q), sd.constant(k), sd.constant(v), bias, DH);

        double[][][][] expectedBias = new double[B][H][T][S];
        boolean[][] seesSomething = new boolean[B][T];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                for (int s = 0; s < S; s++) {
                    boolean visible = s <= t + (S - T) && keep[b][s] == 1;
                    seesSomething[b][t] |= visible;
                    for (int h = 0; h < H; h++) {
                        expectedBias[b][h][t][s] = visible ? 0 : -1e9;
                    }
                }
            }
        }
        AttentionReference.Attended expected = AttentionReference.attention(AttentionReference.array4(q),
                AttentionReference.array4(k), AttentionReference.array4(v), expectedBias);
        double[][][][] values = AttentionReference.array4(out.values().eval());
        double[][][][] weights = AttentionReference.array4(out.weights().eval());
        int compared = 0;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                if (!seesSomething[b][t]) {
                    continue; // a row with every key blocked has no defined answer; it must only stay finite
                }
                compared++;
                for (int h = 0; h < H; h++) {
                    for (int j = 0; j < DH; j++) {
                        assertEquals(expected.values()[b][h][t][j], values[b][h][t][j], 1e-5, "value");
                    }
                    for (int s = 0; s < S; s++) {
                        assertEquals(expected.weights()[b][h][t][s], weights[b][h][t][s], 1e-5, "weight");
                    }
                }
            }
        }
        assertTrue(compared >= 10, "too few rows compared: " + compared);
        assertTrue(GradientCheck.allFinite(out.values().eval()));
    }

    @Test
    void paddedKeysGetZeroWeightAndFullyPaddedRowsStayFinite() {
        double[][] keep = {{1, 1, 0, 0, 0}, {0, 0, 0, 0, 0}, {1, 1, 1, 1, 1}};
        SameDiff sd = SameDiff.create();
        // fp32, the training precision: M2.1's double softmax turns a row of equal, very negative scores into NaN.
        SDVariable bias = AttentionMasks.padding(sd, sd.constant(Nd4j.createFromArray(keep).castTo(DataType.FLOAT)), S);
        ScaledDotProductAttention.Output out = ScaledDotProductAttention.apply(sd, "sdpa",
                sd.constant(uniform(1, DataType.FLOAT, B, H, T, DH)),
                sd.constant(uniform(2, DataType.FLOAT, B, H, S, DH)),
                sd.constant(uniform(3, DataType.FLOAT, B, H, S, DH)), bias, DH);
        INDArray weights = out.weights().eval();
        for (int h = 0; h < H; h++) {
            for (int t = 0; t < T; t++) {
                for (int s = 2; s < S; s++) {
                    assertEquals(0.0, weights.getDouble(0, h, t, s), "padded key " + s + " got weight");
                }
            }
        }
        assertTrue(GradientCheck.allFinite(out.values().eval()), "a fully padded row produced NaN or ∞");
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        SameDiff sd = SameDiff.create();
        SDVariable q = sd.var("q", uniform(1, DataType.DOUBLE, B, H, T, DH));
        SDVariable k = sd.var("k", uniform(2, DataType.DOUBLE, B, H, S, DH));
        SDVariable v = sd.var("v", uniform(3, DataType.DOUBLE, B, H, S, DH));
        // Offset causal mask (S < T): the first T − S queries see nothing; use the plain lower triangle instead.
        double[][] lowerTriangle = new double[T][S];
        for (int t = 0; t < T; t++) {
            for (int s = t + 1; s < S; s++) {
                lowerTriangle[t][s] = -1e9;
            }
        }
        SDVariable bias = sd.constant(Nd4j.createFromArray(lowerTriangle));
        ScaledDotProductAttention.Output out = ScaledDotProductAttention.apply(sd, "sdpa", q, k, v, bias, DH);
        String loss = GradientCheck.projectToScalar(sd, out.values(), 11, B, H, T, DH);
        GradientCheck.check(sd, loss, Map.of(), 60, "q", "k", "v");
    }
}
