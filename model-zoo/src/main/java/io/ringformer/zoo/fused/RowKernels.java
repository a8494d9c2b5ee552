package io.ringformer.zoo.fused;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * What {@link ScalarKernels} and {@link VectorKernels} share: the index bookkeeping of the kernels that work row by
 * row (causal rows, heads, positions, ignored targets), written once in terms of a few operations on contiguous
 * runs of floats, which each implementation supplies. All offsets and counts are in floats.
 */
abstract class RowKernels implements Kernels {

    /** The float at float index {@code index} of a native-order buffer. */
    static float get(ByteBuffer buffer, int index) {
        return buffer.getFloat(Float.BYTES * index);
    }

    static void put(ByteBuffer buffer, int index, float value) {
        buffer.putFloat(Float.BYTES * index, value);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Operations on runs of n floats, supplied by the implementations

    /** buffer[offset + i] = 0 for i < n. */
    abstract void zero(ByteBuffer buffer, int offset, int n);

    /** y[yOffset + i] += alpha·x[xOffset + i] for i < n. */
    abstract void axpy(float alpha, ByteBuffer x, int xOffset, ByteBuffer y, int yOffset, int n);

    /** out[outOffset + i] = alpha·a[aOffset + i] + b[bOffset + i] for i < n; just alpha·a when b is null. */
    abstract void scaleAdd(float alpha, ByteBuffer a, int aOffset, ByteBuffer b, int bOffset, ByteBuffer out,
                           int outOffset, int n);

    /**
     * Causal row t of {@code length} scores z[s] = scores[offset + s], in place: p[s] = softmax over s ≤ t of
     * (scale·z[s] − slope·(t − s)), and p[s] = 0 for t < s < length.
     */
    abstract void softmaxRow(ByteBuffer scores, int offset, int t, int length, float scale, float slope);

    /**
     * Causal row t of {@code length} entries, in place on dp: ds[s] = scale·p[s]·(dp[s] − Σ_{s' ≤ t} p[s']·dp[s'])
     * for s ≤ t, and ds[s] = 0 for t < s < length.
     */
    abstract void softmaxBackwardRow(ByteBuffer p, ByteBuffer dp, int offset, int t, int length, float scale);

    /**
     * −log softmax(row)[target] of the vocab logits at offset (0 ≤ target < vocab), in double; when dLogits is not
     * null, also dLogits[offset + i] = gradScale·(softmax(row)[i] − [i = target]).
     */
    abstract double crossEntropyRow(ByteBuffer logits, int offset, int vocab, int target, ByteBuffer dLogits,
                                    float gradScale);

    /**
     * Rotates the n pairs (a, b) = (buffer[aOffset + i], buffer[bOffset + i]) in place by the angles whose cosines
     * and sines are at cos/sin[angleOffset + i]: a' = a·cos − b·sin, b' = b·cos + a·sin; by minus those angles
     * when {@code inverse}.
     */
    abstract void rotate(ByteBuffer buffer, int aOffset, int bOffset, ByteBuffer cos, ByteBuffer sin, int angleOffset,
                         int n, boolean inverse);

    // ---------------------------------------------------------------------------------------------------------------
    // Kernels in terms of them

    @Override
    public void causalSoftmax(ByteBuffer scores, int groups, int length, int heads, float scale, float[] slopes) {
        for (int group = 0; group < groups; group++) {
            float slope = slopes == null ? 0f : slopes[group % heads];
            for (int t = 0; t < length; t++) {
                softmaxRow(scores, (group * length + t) * length, t, length, scale, slope);
            }
        }
    }

    @Override
    public void causalSoftmaxBackward(ByteBuffer p, ByteBuffer dp, int groups, int length, float scale) {
        for (int row = 0; row < groups * length; row++) {
            softmaxBackwardRow(p, dp, row * length, row % length, length, scale);
        }
    }

    /** A row over the real keys is the causal row of the last real key: softmax over s ≤ keys − 1, zeros beyond. */
    @Override
    public void keySoftmax(ByteBuffer scores, int groups, int length, int heads, float scale, int[] keys) {
        for (int group = 0; group < groups; group++) {
            int last = (keys == null ? length : keys[group / heads]) - 1;
            for (int t = 0; t < length; t++) {
                softmaxRow(scores, (group * length + t) * length, last, length, scale, 0f);
            }
        }
    }

    @Override
    public void keySoftmaxBackward(ByteBuffer p, ByteBuffer dp, int groups, int length, int heads, float scale,
                                   int[] keys) {
        for (int group = 0; group < groups; group++) {
            int last = (keys == null ? length : keys[group / heads]) - 1;
            for (int t = 0; t < length; t++) {
                softmaxBackwardRow(p, dp, (group * length + t) * length, last, length, scale);
            }
        }
    }

    @Override
    public double crossEntropy(ByteBuffer logits, int[] targets, int targetOffset, ByteBuffer dLogits, int rows,
                               int vocab, float gradScale) {
        return crossEntropy(logits, targets, targetOffset, Objects.requireNonNull(dLogits), rows, vocab, gradScale,
                            true);
    }

    @Override
    public double crossEntropyLoss(ByteBuffer logits, int[] targets, int targetOffset, int rows, int vocab) {
        return crossEntropy(logits, targets, targetOffset, null, rows, vocab, 0f, false);
    }

    private double crossEntropy(ByteBuffer logits, int[] targets, int targetOffset, ByteBuffer dLogits, int rows,
                                int vocab, float gradScale, boolean gradient) {
        double loss = 0;
        for (int row = 0; row < rows; row++) {
            int target = targets[targetOffset + row];
            if (target < 0) {
                if (gradient) {
                    zero(dLogits, row * vocab, vocab);
                }
                continue;
            }
            Objects.checkIndex(target, vocab);
            loss += crossEntropyRow(logits, row * vocab, vocab, target, dLogits, gradScale);
        }
        return loss;
    }

    @Override
    public void columnSums(ByteBuffer dy, ByteBuffer out, int rows, int columns) {
        zero(out, 0, columns);
        for (int row = 0; row < rows; row++) {
            axpy(1f, dy, row * columns, out, 0, columns);
        }
    }

    @Override
    public void zero(ByteBuffer buffer, int n) {
        zero(buffer, 0, n);
    }

    @Override
    public void add(ByteBuffer a, ByteBuffer b, ByteBuffer out, int n) {
        scaleAdd(1f, a, 0, b, 0, out, 0, n);
    }

    @Override
    public void rope(ByteBuffer qkv, int rows, int length, int heads, int headDim, ByteBuffer cos, ByteBuffer sin,
                     boolean inverse) {
        int half = headDim / 2;
        int rowWidth = 3 * heads * headDim;
        for (int row = 0; row < rows; row++) {
            int angles = (row % length) * half;
            // The q heads and then the k heads: the first 2·heads of the row's 3·heads blocks of headDim.
            for (int head = 0; head < 2 * heads; head++) {
                int a = row * rowWidth + head * headDim;
                rotate(qkv, a, a + half, cos, sin, angles, half, inverse);
            }
        }
    }

    @Override
    public void embed(int[] tokens, int tokenOffset, ByteBuffer wte, float tokenScale, ByteBuffer positions,
                      ByteBuffer x, int rows, int length, int width) {
        for (int row = 0; row < rows; row++) {
            int token = tokens[tokenOffset + row];
            scaleAdd(tokenScale, wte, token * width, positions, (row % length) * width, x, row * width, width);
        }
    }

    @Override
    public void embedBackward(int[] tokens, int tokenOffset, ByteBuffer dx, float tokenScale, ByteBuffer dWte,
                              ByteBuffer dPositions, int rows, int length, int width) {
        if (dPositions != null) {
            zero(dPositions, 0, length * width);
        }
        for (int row = 0; row < rows; row++) {
            int token = tokens[tokenOffset + row];
            axpy(tokenScale, dx, row * width, dWte, token * width, width);
            if (dPositions != null) {
                axpy(1f, dx, row * width, dPositions, (row % length) * width, width);
            }
        }
    }
}
