package io.ringformer.zoo.fused;

import java.nio.ByteBuffer;

/**
 * Rows of activations [N, columns] in fp32 for the fused steps, with a bf16 copy for the GEMMs when they run in
 * bf16; and a LayerNorm's saved row statistics.
 */
public final class Activations {

    public final int columns;
    public final NativeBuffer f32;
    public final ByteBuffer bytes;
    private final NativeBuffer bf16Copy;
    private final ByteBuffer bf16Bytes;
    private final Kernels kernels;

    public Activations(int rows, int columns, boolean withBf16, Kernels kernels) {
        this.columns = columns;
        this.kernels = kernels;
        f32 = NativeBuffer.allocate((long) rows * columns, ElementType.F32);
        bf16Copy = withBf16 ? NativeBuffer.allocate((long) rows * columns, ElementType.BF16) : null;
        bytes = f32.bytes();
        bf16Bytes = withBf16 ? bf16Copy.bytes() : null;
    }

    /** The first n rows, fp32. */
    public View matrix(int n) {
        return View.matrix(f32, 0, n, columns);
    }

    /** The operand a GEMM reads: the bf16 copy in bf16, the fp32 values otherwise. */
    public View gemm(int n) {
        return View.matrix(bf16Copy != null ? bf16Copy : f32, 0, n, columns);
    }

    /** Refreshes the bf16 copy of the first n rows (nothing in fp32). */
    public void roundToBf16(int n) {
        if (bf16Copy != null) {
            kernels.toBf16(bytes, bf16Bytes, n * columns);
        }
    }

    /** A LayerNorm's saved row statistics. */
    public static final class Stats {
        public final ByteBuffer mean;
        public final ByteBuffer rstd;

        public Stats(int rows) {
            mean = NativeBuffer.allocate(rows, ElementType.F32).bytes();
            rstd = NativeBuffer.allocate(rows, ElementType.F32).bytes();
        }
    }
}
