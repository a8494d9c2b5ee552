package io.ringformer.zoo.fused;

import java.nio.ByteBuffer;

/**
 * How a fused block attends: the part of {@link FusedBlocks}' step between the qkv projection and the output
 * projection, forward and backward. An attention type that can run in the fused step hands out a {@link Factory}
 * ({@code Attention.fused()}); the blocks build one per model and call it once per layer and pass.
 *
 * <p>Rows in, rows out: the forward pass reads the layer's {@code qkv} [N, 3d] (q | k | v, each H heads of dh,
 * positions applied) and writes the fp32 attended values into {@code attended} [N, d], heads side by side; the
 * backward pass reads ∂L/∂attended from {@code dAttended} [N, d] and writes ∂L/∂qkv into {@code dQkv} [N, 3d].
 * Query t of sequence b may see key s when {@code causal ? s ≤ t : s < keys[b]} (keys null: all of them); the
 * scores are scale·q·k − slope_h·(t − s) with scale = 1/√dh and the ALiBi slope, if any.
 */
public interface FusedAttention {

    /** Builds the attention of one fused model. */
    @FunctionalInterface
    interface Factory {
        FusedAttention create(Context context);
    }

    /**
     * What the blocks give their attention: the shape, the kernels, and the rows it reads and writes.
     *
     * @param qkv       per layer, its projected rows [maxSequences·T, 3d] fp32
     * @param attended  per layer, where its attended values go [maxSequences·T, d] fp32 (kept for the backward pass)
     * @param dAttended ∂L/∂attended of the layer being differentiated [maxSequences·T, d] fp32
     * @param dQkv      where ∂L/∂qkv goes [maxSequences·T, 3d] fp32
     * @param slopes    ALiBi's slope per head, or null
     */
    record Context(int layers, int heads, int headDim, int length, boolean causal, float[] slopes, boolean bf16,
                   Kernels kernels, int maxSequences, NativeBuffer[] qkv, NativeBuffer[] attended,
                   NativeBuffer dAttended, NativeBuffer dQkv) {

        public int width() {
            return heads * headDim;
        }

        public float scale() {
            return (float) (1 / Math.sqrt(headDim));
        }

        /** What the attention products multiply: bf16 in bf16, fp32 otherwise. */
        public ElementType gemmType() {
            return bf16 ? ElementType.BF16 : ElementType.F32;
        }

        /** [B, H, T, dh] heads inside rows of {@code rowWidth} columns, from column {@code column}. */
        public View heads(NativeBuffer rows, int column, int sequences, int rowWidth) {
            return View.heads(rows, column, sequences, heads, length, headDim, rowWidth);
        }

        /** The ALiBi slope of head h, 0 without ALiBi. */
        public float slope(int head) {
            return slopes == null ? 0f : slopes[head];
        }

        /** An fp32 scratch of n floats. */
        ByteBuffer floats(long n) {
            return NativeBuffer.allocate(n, ElementType.F32).bytes();
        }
    }

    /** Attends with layer {@code layer} over {@code sequences} sequences: qkv rows in, attended rows out. */
    void forward(int layer, int sequences, int[] keys);

    /** The backward pass of layer {@code layer}'s last forward pass: dAttended in, dQkv out. */
    void backward(int layer, int sequences, int[] keys);

    /** Layer {@code layer}'s attention weights [B, H, T, T] in its last forward pass (for maps). */
    float[] map(int layer, int sequences, int[] keys);
}
