package io.ringformer.zoo.fused;

import java.nio.ByteBuffer;

/**
 * The element-wise work and reductions of the fused training step: everything that is not a GEMM.
 *
 * <p>Values are fp32 in direct {@link ByteBuffer}s of native byte order, each starting at index 0 (callers pass
 * slices made once, never per call). Counts, rows and widths are in floats, not bytes. Matrices are row-major.
 * Two implementations compute the same thing: {@link VectorKernels} with the Java Vector API, and
 * {@link ScalarKernels}, plain loops, chosen when the Vector API is not available. They agree within float
 * rounding (the order of a sum may differ).
 */
public interface Kernels {

    /** The Vector API kernels when the {@code jdk.incubator.vector} module is present, else the scalar ones. */
    static Kernels best() {
        return VectorKernels.isAvailable() ? new VectorKernels() : new ScalarKernels();
    }

    /** "vector (512-bit)" or "scalar": for logs and benchmark reports. */
    String name();

    /**
     * LayerNorm over each row: y = (x − μ)·rstd·gain + bias, with μ the row mean and rstd = 1/√(σ² + eps), σ² the
     * biased variance. Saves μ and rstd per row for the backward pass.
     *
     * @param x [rows, width]; y [rows, width]; gain, bias [width]; mean, rstd [rows]
     */
    void layerNorm(ByteBuffer x, ByteBuffer gain, ByteBuffer bias, ByteBuffer y, ByteBuffer mean, ByteBuffer rstd,
                   int rows, int width, float eps);

    /**
     * LayerNorm's backward pass. With x̂ = (x − μ)·rstd and g = dy·gain:
     * dx += rstd·(g − mean(g) − x̂·mean(g·x̂)) (added, so the residual stream's gradient collects it);
     * dGain = Σ_rows dy·x̂ and dBias = Σ_rows dy (overwritten).
     *
     * @param dy, x, dx [rows, width]; gain, dGain, dBias [width]; mean, rstd [rows] as saved by {@link #layerNorm}
     */
    void layerNormBackward(ByteBuffer dy, ByteBuffer x, ByteBuffer gain, ByteBuffer mean, ByteBuffer rstd,
                           ByteBuffer dx, ByteBuffer dGain, ByteBuffer dBias, int rows, int width);

    /**
     * y = x·Φ(x) = ½·x·(1 + erf(x/√2)), the exact GELU (PyTorch's default), over n values. When {@code slope} is
     * not null it also receives the derivative Φ(x) + x·φ(x) (φ the standard normal density), which shares the
     * forward pass's exp and makes the backward pass one multiply ({@link #geluBackward}).
     */
    void gelu(ByteBuffer x, ByteBuffer y, ByteBuffer slope, int n);

    /** dx = dy·slope, the slope as {@link #gelu} saved it (overwritten; dx may be dy). */
    void geluBackward(ByteBuffer dy, ByteBuffer slope, ByteBuffer dx, int n);

    /**
     * Causal softmax of attention scores, in place. The scores are [groups, length, length] with groups = B·H
     * (row t of group g starts at (g·length + t)·length) and group g belongs to head g mod heads. For s ≤ t:
     * p[t, s] = softmax over s of (scale·z[t, s] − slope[h]·(t − s)); above the diagonal p = 0 exactly.
     *
     * @param slopes ALiBi slopes, one per head, or null for none
     */
    void causalSoftmax(ByteBuffer scores, int groups, int length, int heads, float scale, float[] slopes);

    /**
     * The backward pass of {@link #causalSoftmax}, in place on dp: ds[t, s] = scale·p[t, s]·(dp[t, s] − Σ_{s' ≤ t}
     * p[t, s']·dp[t, s']) for s ≤ t, and 0 above the diagonal. (The scale folds in the 1/√dh of the scores.)
     */
    void causalSoftmaxBackward(ByteBuffer p, ByteBuffer dp, int groups, int length, float scale);

    /**
     * Bidirectional softmax of attention scores over the real keys, in place: the scores are [groups, length,
     * length] with groups = B·H (head h of sequence b at group b·H + h), and every row of sequence b attends to its
     * keys s < keys[b] (padding comes last): p[t, s] = softmax over s < keys[b] of scale·z[t, s], and p = 0 exactly
     * beyond. {@code keys} null: every key is real.
     */
    void keySoftmax(ByteBuffer scores, int groups, int length, int heads, float scale, int[] keys);

    /** The backward pass of {@link #keySoftmax}, in place on dp: ds = scale·p·(dp − Σ_s p·dp) over the real keys. */
    void keySoftmaxBackward(ByteBuffer p, ByteBuffer dp, int groups, int length, int heads, float scale, int[] keys);

    // The row operations of memory-efficient attention (FlashAttention's online softmax over key chunks,
    // ChunkedAttention): each works on one run of n floats from offset.

    /**
     * In place for s < n: z[s] ← scale·z[s] − slope·(last − s) where s ≤ last, −∞ past last (a causal row, or a
     * row whose keys end at last). Returns the maximum, −∞ when last < 0.
     */
    float biasRow(ByteBuffer scores, int offset, int n, int last, float scale, float slope);

    /** In place: x[s] ← e^(x[s] − shift) (0 exactly for −∞), for s < n; returns their sum. */
    float expRow(ByteBuffer x, int offset, int n, float shift);

    /** x[s] ← factor·x[s] for s < n. */
    void scaleRow(ByteBuffer x, int offset, int n, float factor);

    /** Σ_{s < n} a[aOffset + s]·b[bOffset + s]. */
    float dot(ByteBuffer a, int aOffset, ByteBuffer b, int bOffset, int n);

    /** In place on dp: ds[s] = scale·p[s]·(dp[s] − rowDot) for s < n (softmax's backward pass, Σ p·dp given). */
    void softmaxGradientRow(ByteBuffer p, ByteBuffer dp, int offset, int n, float rowDot, float scale);

    /**
     * Cross-entropy of rows of logits against integer targets; a target below 0 is ignored. Writes
     * dLogits[r] = gradScale·(softmax(logits[r]) − onehot(target[r])), or zeros for an ignored row.
     *
     * @param logits, dLogits [rows, vocab]; targets[targetOffset + r] is row r's target
     * @return Σ over rows not ignored of −log softmax(logits[r])[target[r]]
     */
    double crossEntropy(ByteBuffer logits, int[] targets, int targetOffset, ByteBuffer dLogits, int rows, int vocab,
                        float gradScale);

    /** As {@link #crossEntropy} without the gradient (evaluation). */
    double crossEntropyLoss(ByteBuffer logits, int[] targets, int targetOffset, int rows, int vocab);

    /** out[c] = Σ_r dy[r, c]: a bias's gradient (overwritten). dy [rows, columns], out [columns]. */
    void columnSums(ByteBuffer dy, ByteBuffer out, int rows, int columns);

    /** buffer[0, n) = 0. */
    void zero(ByteBuffer buffer, int n);

    /** out = a + b over n values; out may be a or b. */
    void add(ByteBuffer a, ByteBuffer b, ByteBuffer out, int n);

    /**
     * Rotary positions (RoPE, GPT-NeoX half split) on the query and key parts of fused projections, in place.
     * qkv is [rows, 3·heads·headDim] with columns [q | k | v], each head's headDim features contiguous; row r is
     * at position r mod length. Within a head, feature i pairs with i + headDim/2, rotated by the angle p·θᵢ:
     * a' = a·cos − b·sin, b' = b·cos + a·sin. {@code inverse} rotates by −p·θᵢ, which is the backward pass.
     *
     * @param cos, sin [length, headDim/2]: cos(p·θᵢ), sin(p·θᵢ)
     */
    void rope(ByteBuffer qkv, int rows, int length, int heads, int headDim, ByteBuffer cos, ByteBuffer sin,
              boolean inverse);

    /**
     * x[r] = tokenScale·wte[tokens[tokenOffset + r]] + positions[r mod length] (no positions when null).
     *
     * @param wte [vocab, width]; positions [length, width] or null; x [rows, width]
     */
    void embed(int[] tokens, int tokenOffset, ByteBuffer wte, float tokenScale, ByteBuffer positions, ByteBuffer x,
               int rows, int length, int width);

    /**
     * The backward pass of {@link #embed}: dWte[tokens[r]] += tokenScale·dx[r] (added: the tied LM head has
     * written its part already); dPositions[p] = Σ over rows at position p of dx[r] (overwritten), when not null.
     */
    void embedBackward(int[] tokens, int tokenOffset, ByteBuffer dx, float tokenScale, ByteBuffer dWte,
                       ByteBuffer dPositions, int rows, int length, int width);

    /** dst[i] = src[i] rounded to bfloat16 (nearest, ties to even; 2 bytes each) for n values. */
    void toBf16(ByteBuffer src, ByteBuffer dst, int n);

    /**
     * into[i] += src[i] for offset ≤ i < offset + n: a gradient out of native memory into a Java array at the same
     * place, read where it lies (a bulk copy into a scratch array first would be another pass over it, and 4 bytes a
     * parameter of heap).
     */
    void addToArray(ByteBuffer src, float[] into, int offset, int n);
}
