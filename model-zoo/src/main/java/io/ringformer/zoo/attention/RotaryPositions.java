package io.ringformer.zoo.attention;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Rotary position embeddings (Su et al. 2021, RoFormer), with the half-split pairing of GPT-NeoX: feature i is
 * rotated together with feature i + dh/2 by the angle p·θᵢ, θᵢ = 10000^(−2i/dh). Rotating both q and k makes
 * q·k depend on positions only through their difference.
 *
 * <p>rotate_half(x) = [−x₂, x₁] is done as one matmul with a constant [dh, dh] matrix, which costs fewer graph
 * ops than slicing and concatenating.
 */
public final class RotaryPositions {

    public static final double BASE = 10000.0;

    private RotaryPositions() {}

    /** [length, dh]: cos or sin of p·θᵢ, repeated for both halves. */
    public static float[][] angles(int length, int headDim, boolean sine) {
        int half = headDim / 2;
        float[][] table = new float[length][headDim];
        for (int p = 0; p < length; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * Math.pow(BASE, -2.0 * i / headDim);
                float value = (float) (sine ? Math.sin(angle) : Math.cos(angle));
                table[p][i] = value;
                table[p][i + half] = value;
            }
        }
        return table;
    }

    /** [dh, dh] such that x·R = [−x₂, x₁]. */
    public static float[][] rotateHalf(int headDim) {
        int half = headDim / 2;
        float[][] r = new float[headDim][headDim];
        for (int i = 0; i < half; i++) {
            r[i + half][i] = -1f;   // output i       = −x[i + half]
            r[i][i + half] = 1f;    // output i+half  =  x[i]
        }
        return r;
    }

    /**
     * @param x [B, H, T, dh]
     * @return x·cos + rotate_half(x)·sin, [B, H, T, dh]
     */
    public static SDVariable apply(SameDiff sd, String name, SDVariable x, int heads, int length, int headDim) {
        DataType type = x.dataType();
        SDVariable cos = constant(sd, name + "/cos", angles(length, headDim, false), type);     // [T, dh]
        SDVariable sin = constant(sd, name + "/sin", angles(length, headDim, true), type);     // [T, dh]
        SDVariable r = constant(sd, name + "/rotate", rotateHalf(headDim), type);              // [dh, dh]
        SDVariable rows = sd.reshape(x, -1, headDim);                                          // [B·H·T, dh]
        SDVariable rotated = sd.reshape(sd.mmul(rows, r), -1, heads, length, headDim);         // [B, H, T, dh]
        return x.mul(cos).add(rotated.mul(sin));                                               // [B, H, T, dh]
    }

    private static SDVariable constant(SameDiff sd, String name, float[][] values, DataType type) {
        SDVariable existing = sd.getVariable(name);
        return existing != null ? existing : sd.constant(name, Nd4j.createFromArray(values).castTo(type));
    }
}
