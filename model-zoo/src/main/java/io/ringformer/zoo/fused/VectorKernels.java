package io.ringformer.zoo.fused;

import java.nio.ByteBuffer;

/**
 * The kernels with the Java Vector API ({@code jdk.incubator.vector}, the preferred species of this CPU), computing
 * what {@link ScalarKernels} computes with the same formulas. The code is in {@link VectorLoops}; this class names no
 * Vector API type, so that it links, and {@link #isAvailable()} answers, without the module.
 */
public final class VectorKernels extends RowKernels {

    /**
     * Whether the {@code jdk.incubator.vector} module is in the boot layer ({@code --add-modules
     * jdk.incubator.vector}) and the vector code links; false, never an exception, otherwise.
     */
    public static boolean isAvailable() {
        return Probe.AVAILABLE;
    }

    private static final class Probe {
        static final boolean AVAILABLE = probe();

        private static boolean probe() {
            if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
                return false;
            }
            try {
                return VectorLoops.LANES > 0;
            } catch (LinkageError e) {
                return false;
            }
        }
    }

    /** @throws IllegalStateException when the Vector API is not {@link #isAvailable() available} */
    public VectorKernels() {
        if (!isAvailable()) {
            throw new IllegalStateException(
                    "the Vector API is not available: run with --add-modules jdk.incubator.vector");
        }
    }

    @Override
    public String name() {
        return "vector (" + VectorLoops.bits() + "-bit)";
    }

    @Override
    public void layerNorm(ByteBuffer x, ByteBuffer gain, ByteBuffer bias, ByteBuffer y, ByteBuffer mean,
                          ByteBuffer rstd, int rows, int width, float eps) {
        VectorLoops.layerNorm(x, gain, bias, y, mean, rstd, rows, width, eps);
    }

    @Override
    public void layerNormBackward(ByteBuffer dy, ByteBuffer x, ByteBuffer gain, ByteBuffer mean, ByteBuffer rstd,
                                  ByteBuffer dx, ByteBuffer dGain, ByteBuffer dBias, int rows, int width) {
        VectorLoops.layerNormBackward(dy, x, gain, mean, rstd, dx, dGain, dBias, rows, width);
    }

    @Override
    public void gelu(ByteBuffer x, ByteBuffer y, ByteBuffer slope, int n) {
        VectorLoops.gelu(x, y, slope, n);
    }

    @Override
    public void geluBackward(ByteBuffer dy, ByteBuffer slope, ByteBuffer dx, int n) {
        VectorLoops.geluBackward(dy, slope, dx, n);
    }

    @Override
    public void toBf16(ByteBuffer src, ByteBuffer dst, int n) {
        VectorLoops.toBf16(src, dst, n);
    }

    @Override
    public void addToArray(ByteBuffer src, float[] into, int offset, int n) {
        VectorLoops.addToArray(src, into, offset, n);
    }

    @Override
    void zero(ByteBuffer buffer, int offset, int n) {
        VectorLoops.zero(buffer, offset, n);
    }

    @Override
    void axpy(float alpha, ByteBuffer x, int xOffset, ByteBuffer y, int yOffset, int n) {
        VectorLoops.axpy(alpha, x, xOffset, y, yOffset, n);
    }

    @Override
    void scaleAdd(float alpha, ByteBuffer a, int aOffset, ByteBuffer b, int bOffset, ByteBuffer out, int outOffset,
                  int n) {
        VectorLoops.scaleAdd(alpha, a, aOffset, b, bOffset, out, outOffset, n);
    }

    @Override
    void softmaxRow(ByteBuffer scores, int offset, int t, int length, float scale, float slope) {
        VectorLoops.softmaxRow(scores, offset, t, length, scale, slope);
    }

    @Override
    void softmaxBackwardRow(ByteBuffer p, ByteBuffer dp, int offset, int t, int length, float scale) {
        VectorLoops.softmaxBackwardRow(p, dp, offset, t, length, scale);
    }

    @Override
    public float biasRow(ByteBuffer scores, int offset, int n, int last, float scale, float slope) {
        return VectorLoops.biasScores(scores, offset, last, n, scale, slope);
    }

    @Override
    public float expRow(ByteBuffer x, int offset, int n, float shift) {
        return VectorLoops.exponentiate(x, offset, x, offset, n, shift);
    }

    @Override
    public void scaleRow(ByteBuffer x, int offset, int n, float factor) {
        VectorLoops.scale(x, offset, n, factor);
    }

    @Override
    public float dot(ByteBuffer a, int aOffset, ByteBuffer b, int bOffset, int n) {
        return VectorLoops.dot(a, aOffset, b, bOffset, n);
    }

    @Override
    public void softmaxGradientRow(ByteBuffer p, ByteBuffer dp, int offset, int n, float rowDot, float scale) {
        VectorLoops.softmaxGradientRow(p, dp, offset, n, rowDot, scale);
    }

    @Override
    double crossEntropyRow(ByteBuffer logits, int offset, int vocab, int target, ByteBuffer dLogits,
                           float gradScale) {
        return VectorLoops.crossEntropyRow(logits, offset, vocab, target, dLogits, gradScale);
    }

    @Override
    void rotate(ByteBuffer buffer, int aOffset, int bOffset, ByteBuffer cos, ByteBuffer sin, int angleOffset, int n,
                boolean inverse) {
        VectorLoops.rotate(buffer, aOffset, bOffset, cos, sin, angleOffset, n, inverse);
    }
}
