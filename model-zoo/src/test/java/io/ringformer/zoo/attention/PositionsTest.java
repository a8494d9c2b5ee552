package io.ringformer.zoo.attention;

import static io.ringformer.zoo.GradientCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class PositionsTest {

    @Test
    void alibiSlopesForEightHeadsAreOneHalfToOneOver256() {
        double[] expected = {1 / 2.0, 1 / 4.0, 1 / 8.0, 1 / 16.0, 1 / 32.0, 1 / 64.0, 1 / 128.0, 1 / 256.0};
        assertArrayEquals(expected, AlibiBias.slopes(8), 1e-15);
    }

    @Test
    void alibiSlopesForSixHeadsFollowThePapersInterleaving() {
        // closest power of two 4 → 2^-2, 2^-4, 2^-6, 2^-8; then every other slope of 8 heads: 2^-1, 2^-3
        double[] expected = {0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125};
        assertArrayEquals(expected, AlibiBias.slopes(6), 1e-15);
    }

    @Test
    void alibiBiasIsMinusSlopeTimesDistance() {
        float[][][] bias = AlibiBias.bias(4, 3, 5); // queries are the last 3 of 5 keys
        assertEquals(0f, bias[0][2][4], 0f);
        assertEquals((float) (-Math.pow(2, -2) * 3), bias[0][1][0], 1e-7);
        assertEquals((float) (-Math.pow(2, -8) * 4), bias[3][2][0], 1e-7);
    }

    @Test
    void ropeScoresDependOnlyOnTheRelativeOffset() {
        int heads = 2, length = 9, dh = 8;
        SameDiff sd = SameDiff.create();
        // The same q and the same k at every position, so any change in q·k comes from the rotation alone.
        SDVariable q = sd.constant(samePerPosition(uniform(1, DataType.DOUBLE, heads, dh), length));
        SDVariable k = sd.constant(samePerPosition(uniform(2, DataType.DOUBLE, heads, dh), length));
        SDVariable scores = sd.mmul(RotaryPositions.apply(sd, "rq", q, heads, length, dh),
                RotaryPositions.apply(sd, "rk", k, heads, length, dh), false, true, false);   // [1, H, T, T]
        INDArray s = scores.eval();
        for (int h = 0; h < heads; h++) {
            for (int t = 0; t + 1 < length; t++) {
                for (int u = 0; u + 1 < length; u++) {
                    assertEquals(s.getDouble(0, h, t, u), s.getDouble(0, h, t + 1, u + 1), 1e-6, // cos/sin tables are fp32
                            "score(" + t + "," + u + ") vs score(" + (t + 1) + "," + (u + 1) + ")");
                }
            }
            assertTrue(Math.abs(s.getDouble(0, h, 0, 0) - s.getDouble(0, h, 5, 0)) > 1e-3,
                    "scores should change with the offset");
        }
    }

    /** [1, H, T, dh] holding row h of {@code perHead} at every position. */
    private static INDArray samePerPosition(INDArray perHead, int length) {
        INDArray x = Nd4j.zeros(DataType.DOUBLE, 1, perHead.rows(), length, perHead.columns());
        for (int h = 0; h < perHead.rows(); h++) {
            for (int t = 0; t < length; t++) {
                for (int j = 0; j < perHead.columns(); j++) {
                    x.putScalar(new long[] {0, h, t, j}, perHead.getDouble(h, j));
                }
            }
        }
        return x;
    }

    @Test
    void ropeAtPositionZeroIsTheIdentity() {
        SameDiff sd = SameDiff.create();
        INDArray x = uniform(3, DataType.DOUBLE, 2, 3, 4, 6);
        INDArray rotated = RotaryPositions.apply(sd, "r", sd.constant(x), 3, 4, 6).eval();
        for (int b = 0; b < 2; b++) {
            for (int h = 0; h < 3; h++) {
                for (int j = 0; j < 6; j++) {
                    assertEquals(x.getDouble(b, h, 0, j), rotated.getDouble(b, h, 0, j), 1e-7);
                }
            }
        }
    }

    @Test
    void sinusoidalTableFollowsVaswani() {
        float[][] table = SinusoidalPositions.table(50, 16);
        assertEquals((float) Math.sin(7), table[7][0], 1e-6);
        assertEquals((float) Math.cos(7), table[7][1], 1e-6);
        assertEquals((float) Math.sin(7 / Math.pow(10000, 4.0 / 16)), table[7][4], 1e-6);
        assertEquals((float) Math.cos(49 / Math.pow(10000, 14.0 / 16)), table[49][15], 1e-6);
    }

    @Test
    void unknownPositionTypeNamesTheChoices() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PositionType.parse("rotary"));
        assertTrue(e.getMessage().contains("rope") && e.getMessage().contains("alibi"), e.getMessage());
        assertEquals(PositionType.ROPE, PositionType.parse("RoPE"));
    }
}
