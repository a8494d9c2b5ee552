package io.ringformer.zoo.fused;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * oneDNN matmuls and reorders on views, against a straightforward double-precision reference.
 *
 * <p>Tolerance: every element of C must satisfy {@code |c − ref| ≤ 2·(K+1)·2⁻²⁴·Σₖ|aₖ·bₖ| + 2⁻²⁴·(|bias| + |c₀|)
 * + 1e-30}, the standard bound of a K-term fp32 dot product with a margin of 2. It holds for bf16 inputs too: the
 * reference is computed on the bf16-rounded inputs, a product of two bf16 is exact in fp32, and oneDNN accumulates
 * in fp32.
 */
class MatmulTest {

    private static final double U = Math.pow(2, -24);

    @BeforeAll
    static void oneDnnLoads() {
        boolean here = System.getProperty("os.name").startsWith("Linux")
                && (System.getProperty("os.arch").equals("amd64") || System.getProperty("os.arch").equals("x86_64"));
        if (here) {
            assertTrue(Dnnl.isAvailable(), () -> "oneDNN must load on x86_64 Linux: " + Dnnl.unavailableReason());
        } else {
            org.junit.jupiter.api.Assumptions.assumeTrue(Dnnl.isAvailable(), Dnnl::unavailableReason);
        }
    }

    // ---- 2-D f32 ----

    @Test
    void smallOddSizes() {
        check(7, 5, 3, false, false, false, false, 1);
    }

    @Test
    void gptProjectionWithBias() {
        check(768, 128, 384, true, false, false, false, 2);
    }

    @Test
    void biasAsRowAndAccumulate() {
        Random r = new Random(3);
        int m = 33, k = 17, n = 9;
        NativeBuffer a = random(m * k, r), b = random(k * n, r), c = random(m * n, r), bias = random(n, r);
        double[] c0 = read(c);
        View av = View.matrix(a, 0, m, k), bv = View.matrix(b, 0, k, n), cv = View.matrix(c, 0, m, n);
        View biasRow = View.matrix(bias, 0, 1, n);
        double[][] expect = reference(av, bv, biasRow, cv, c0);
        try (Matmul mm = Matmul.of(av, bv, biasRow, cv, true)) {
            mm.run();
            assertClose(expect, cv, "C += A·B + bias");
            // a second run adds the product (and bias) once more: C = c₀ + 2·(A·B + bias)
            mm.run();
            double[] now = read(c);
            for (int i = 0; i < now.length; i++) {
                double once = expect[0][i] - c0[i];
                double bound = 2 * expect[1][i] + 4 * U * (Math.abs(once) + Math.abs(c0[i]));
                assertEquals(c0[i] + 2 * once, now[i], bound, "element " + i + " after two accumulating runs");
            }
        }
    }

    @Test
    void transposedA() {
        check(11, 6, 4, false, false, true, false, 4);
    }

    @Test
    void transposedB() {
        check(9, 13, 5, true, false, false, true, 5);
    }

    @Test
    void transposedBothWithAccumulate() {
        check(10, 7, 12, true, true, true, true, 6);
    }

    /** dW[K,N] += Xᵀ·dY with X [M,K] stored row-major (the weight-gradient shape) at the GPT's sizes. */
    @Test
    void weightGradientShape() {
        Random r = new Random(7);
        int m = 768, k = 128, n = 384;
        NativeBuffer x = random(m * k, r), dy = random(m * n, r), dw = random(k * n, r);
        double[] dw0 = read(dw);
        View xt = View.matrix(x, 0, m, k).transposed();
        assertEquals(k, xt.dim(0));
        assertEquals(m, xt.dim(1));
        View dyv = View.matrix(dy, 0, m, n), dwv = View.matrix(dw, 0, k, n);
        double[][] expect = reference(xt, dyv, null, dwv, dw0);
        try (Matmul mm = Matmul.of(xt, dyv, null, dwv, true)) {
            mm.run();
            assertClose(expect, dwv, "dW += Xᵀ·dY");
        }
    }

    /** A column block of a wider matrix as A, and C written into a column block of another. */
    @Test
    void columnBlocks() {
        Random r = new Random(8);
        int m = 6, k = 5, n = 4, wide = 3 * k, cwide = 2 * n + 1;
        NativeBuffer a = random(m * wide, r), b = random(k * n, r), c = random(m * cwide, r);
        double[] before = read(c);
        View av = View.matrix(a, k, m, k, wide);
        View bv = View.matrix(b, 0, k, n);
        View cv = View.matrix(c, n, m, n, cwide);
        double[][] expect = reference(av, bv, null, cv, null);
        try (Matmul mm = Matmul.of(av, bv, null, cv, false)) {
            mm.run();
        }
        assertClose(expect, cv, "column blocks");
        double[] after = read(c);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < cwide; j++) {
                if (j < n || j >= 2 * n) {
                    assertEquals(before[i * cwide + j], after[i * cwide + j], 0, "untouched column " + j);
                }
            }
        }
    }

    // ---- batched ----

    @Test
    void batched3dWithBroadcastB() {
        Random r = new Random(9);
        int batch = 4, m = 6, k = 5, n = 3;
        NativeBuffer a = random(batch * m * k, r), b = random(k * n, r), c = random(batch * m * n, r);
        View av = View.contiguous(a, 0, batch, m, k);
        View bv = View.contiguous(b, 0, 1, k, n);
        View cv = View.contiguous(c, 0, batch, m, n);
        double[][] expect = reference(av, bv, null, cv, null);
        try (Matmul mm = Matmul.of(av, bv, null, cv, false)) {
            mm.run();
        }
        assertClose(expect, cv, "[4,6,5]·[1,5,3]");
        // and one product per batch, checked by hand for one element
        double dot = 0;
        for (int kk = 0; kk < k; kk++) {
            dot += get(a, (3L * m + 2) * k + kk) * get(b, (long) kk * n + 1);
        }
        assertEquals(dot, get(c, (3L * m + 2) * n + 1), 1e-5);
    }

    /**
     * The attention of the fused GPT on a qkv projection [B·T, 3d] (B=2, H=3, T=5, dh=4): scores = q·kᵀ [B,H,T,T],
     * y = P·v written into y [B·T, d] by heads, and the backward products dP = dY·vᵀ and dV = Pᵀ·dY, the latter
     * written into the v columns of a dqkv [B·T, 3d]. The reference indexes qkv by hand, not through View.
     */
    @Test
    void attentionOnStridedHeads() {
        attention(ElementType.F32, 10);
    }

    @Test
    void attentionOnStridedHeadsBf16() {
        attention(ElementType.BF16, 11);
    }

    private void attention(ElementType type, long seed) {
        Random r = new Random(seed);
        int bsz = 2, heads = 3, t = 5, dh = 4, d = heads * dh, w = 3 * d;
        NativeBuffer qkv32 = random(bsz * t * w, r);
        NativeBuffer qkv = type == ElementType.F32 ? qkv32 : toBf16(qkv32);
        NativeBuffer p32 = random(bsz * heads * t * t, r);
        NativeBuffer p = type == ElementType.F32 ? p32 : toBf16(p32);
        NativeBuffer dy32 = random(bsz * t * d, r);
        NativeBuffer dy = type == ElementType.F32 ? dy32 : toBf16(dy32);
        NativeBuffer scores = NativeBuffer.allocate(bsz * heads * t * t, ElementType.F32);
        NativeBuffer y = random(bsz * t * d, r);
        NativeBuffer dp = NativeBuffer.allocate(bsz * heads * t * t, ElementType.F32);
        NativeBuffer dqkv = random(bsz * t * w, r);
        double[] dqkvBefore = read(dqkv);

        View q = View.heads(qkv, 0, bsz, heads, t, dh, w);
        View k = View.heads(qkv, d, bsz, heads, t, dh, w);
        View v = View.heads(qkv, 2 * d, bsz, heads, t, dh, w);
        assertEquals(new View(qkv, d, new long[] {bsz, heads, t, dh}, new long[] {(long) t * w, dh, w, 1}), k);
        View pv = View.contiguous(p, 0, bsz, heads, t, t);
        View sv = View.contiguous(scores, 0, bsz, heads, t, t);
        View yv = View.heads(y, 0, bsz, heads, t, dh, d);
        View dyv = View.heads(dy, 0, bsz, heads, t, dh, d);
        View dpv = View.contiguous(dp, 0, bsz, heads, t, t);
        View dvv = View.heads(dqkv, 2 * d, bsz, heads, t, dh, w);

        try (Matmul qk = Matmul.of(q, k.transposed(), null, sv, false);
             Matmul pvm = Matmul.of(pv, v, null, yv, false);
             Matmul dyvt = Matmul.of(dyv, v.transposed(), null, dpv, false);
             Matmul ptdy = Matmul.of(pv.transposed(), dyv, null, dvv, false)) {
            qk.run();
            pvm.run();
            dyvt.run();
            ptdy.run();
            System.out.printf("attention %s: q·kᵀ %s, P·v %s, dY·vᵀ %s, Pᵀ·dY %s%n", type, qk.implementation(),
                    pvm.implementation(), dyvt.implementation(), ptdy.implementation());
        }

        double tol = 2 * (dh + 1) * U;
        for (int b = 0; b < bsz; b++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < t; i++) {
                    for (int j = 0; j < t; j++) {
                        double dot = 0, abs = 0, dot2 = 0, abs2 = 0;
                        for (int c = 0; c < dh; c++) {
                            double qe = get(qkv, (long) (b * t + i) * w + h * dh + c);
                            double ke = get(qkv, (long) (b * t + j) * w + d + h * dh + c);
                            double dye = get(dy, (long) (b * t + i) * d + h * dh + c);
                            double ve = get(qkv, (long) (b * t + j) * w + 2 * d + h * dh + c);
                            dot += qe * ke;
                            abs += Math.abs(qe * ke);
                            dot2 += dye * ve;
                            abs2 += Math.abs(dye * ve);
                        }
                        long at = (((long) b * heads + h) * t + i) * t + j;
                        assertEquals(dot, get(scores, at), tol * abs + 1e-30, "scores " + b + h + i + j);
                        assertEquals(dot2, get(dp, at), tol * abs2 + 1e-30, "dP " + b + h + i + j);
                    }
                    for (int c = 0; c < dh; c++) {
                        double dot = 0, abs = 0, dot2 = 0, abs2 = 0;
                        for (int j = 0; j < t; j++) {
                            double pe = get(p, (((long) b * heads + h) * t + i) * t + j);
                            double ve = get(qkv, (long) (b * t + j) * w + 2 * d + h * dh + c);
                            dot += pe * ve;
                            abs += Math.abs(pe * ve);
                            double pt = get(p, (((long) b * heads + h) * t + j) * t + i);
                            double dye = get(dy, (long) (b * t + j) * d + h * dh + c);
                            dot2 += pt * dye;
                            abs2 += Math.abs(pt * dye);
                        }
                        double tolT = 2 * (t + 1) * U;
                        assertEquals(dot, get(y, (long) (b * t + i) * d + h * dh + c), tolT * abs + 1e-30,
                                "y " + b + h + i + c);
                        assertEquals(dot2, get(dqkv, (long) (b * t + i) * w + 2 * d + h * dh + c),
                                tolT * abs2 + 1e-30, "dV " + b + h + i + c);
                    }
                }
            }
        }
        // dV went only into the v columns of dqkv
        double[] after = read(dqkv);
        for (int row = 0; row < bsz * t; row++) {
            for (int col = 0; col < 2 * d; col++) {
                assertEquals(dqkvBefore[row * w + col], after[row * w + col], 0, "dqkv q/k columns untouched");
            }
        }
    }

    // ---- bf16 ----

    @Test
    void reorderF32ToBf16RoundsToNearestEven() {
        Random r = new Random(12);
        int rows = 768, cols = 128;
        NativeBuffer src = random(rows * cols, r);
        ByteBuffer sb = src.bytes();
        // exact ties (lower 16 bits 0x8000) with even and odd upper halves, just above and below a tie, large
        // and small magnitudes, signed zero
        int[] special = {0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF, 0xBF818000, 0x7F7FFFFF, 0x00800000,
            0x80000000, 0x477FE000, 0x3F7FFFFF};
        for (int i = 0; i < special.length; i++) {
            sb.putInt(4 * i, special[i]);
        }
        for (int i = special.length; i < 2000; i++) {
            sb.putFloat(4 * i, (float) ((r.nextDouble() - 0.5) * Math.pow(2, r.nextInt(60) - 30)));
        }
        NativeBuffer dst = NativeBuffer.allocate(rows * cols, ElementType.BF16);
        try (Reorder reorder = Reorder.of(View.matrix(src, 0, rows, cols), View.matrix(dst, 0, rows, cols))) {
            reorder.run();
            System.out.println("reorder f32→bf16: " + reorder.implementation());
        }
        ByteBuffer db = dst.bytes();
        for (int i = 0; i < rows * cols; i++) {
            short expect = bf16(sb.getFloat(4 * i));
            short got = db.getShort(2 * i);
            if (expect != got) {
                fail(String.format("element %d: f32 0x%08X → bf16 0x%04X, expected 0x%04X", i, sb.getInt(4 * i),
                        got, expect));
            }
        }
        assertEquals((short) 0x3F80, db.getShort(0), "tie to even (down)");
        assertEquals((short) 0x3F82, db.getShort(2), "tie to even (up)");
    }

    /** A reorder that also transposes: dst [N,K] bf16 row-major ← src [K,N] f32 seen transposed. */
    @Test
    void reorderTransposesThroughStrides() {
        Random r = new Random(13);
        int k = 7, n = 5;
        NativeBuffer src = random(k * n, r);
        NativeBuffer dst = NativeBuffer.allocate(n * k, ElementType.BF16);
        try (Reorder reorder = Reorder.of(View.matrix(src, 0, k, n).transposed(), View.matrix(dst, 0, n, k))) {
            reorder.run();
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < k; j++) {
                assertEquals(bf16((float) get(src, (long) j * n + i)), dst.bytes().getShort(2 * (i * k + j)));
            }
        }
    }

    @Test
    void bf16MatmulWithBias() {
        Random r = new Random(14);
        int m = 768, k = 128, n = 384;
        NativeBuffer a = toBf16(random(m * k, r)), b = toBf16(random(k * n, r));
        NativeBuffer bias = random(n, r);
        NativeBuffer c = NativeBuffer.allocate(m * n, ElementType.F32);
        View av = View.matrix(a, 0, m, k), bv = View.matrix(b, 0, k, n), cv = View.matrix(c, 0, m, n);
        View biasv = View.vector(bias, 0, n);
        double[][] expect = reference(av, bv, biasv, cv, null);
        try (Matmul mm = Matmul.of(av, bv, biasv, cv, false)) {
            mm.run();
            System.out.println("bf16 768×128·128×384: " + mm.implementation());
        }
        assertClose(expect, cv, "bf16 A·B + bias");
    }

    @Test
    void bf16WeightGradientAccumulates() {
        Random r = new Random(15);
        int m = 96, k = 24, n = 40;
        NativeBuffer x = toBf16(random(m * k, r)), dy = toBf16(random(m * n, r));
        NativeBuffer dw = random(k * n, r);
        double[] dw0 = read(dw);
        View xt = View.matrix(x, 0, m, k).transposed(), dyv = View.matrix(dy, 0, m, n), dwv = View.matrix(dw, 0, k, n);
        double[][] expect = reference(xt, dyv, null, dwv, dw0);
        try (Matmul mm = Matmul.of(xt, dyv, null, dwv, true)) {
            mm.run();
        }
        assertClose(expect, dwv, "bf16 dW += Xᵀ·dY");
    }

    /** A column-major C only has oneDNN's reference kernel: of() refuses it, ofAnyKernel() computes it right. */
    @Test
    void columnMajorCNeedsTheReferenceKernel() {
        Random r = new Random(18);
        int m = 6, k = 5, n = 4;
        NativeBuffer a = random(m * k, r), b = random(k * n, r), c = random(m * n, r);
        View av = View.matrix(a, 0, m, k), bv = View.matrix(b, 0, k, n);
        View cv = View.matrix(c, 0, n, m).transposed();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Matmul.of(av, bv, null, cv, false));
        assertTrue(e.getMessage().contains("ref") && e.getMessage().contains("[6, 4] strides [1, 6]"), e.getMessage());
        double[][] expect = reference(av, bv, null, cv, null);
        try (Matmul mm = Matmul.ofAnyKernel(av, bv, null, cv, false)) {
            assertTrue(mm.implementation().startsWith("ref"), mm.implementation());
            mm.run();
        }
        assertClose(expect, cv, "column-major C");
    }

    // ---- bad input ----

    @Test
    void mismatchedInnerDims() {
        NativeBuffer a = NativeBuffer.allocate(7 * 5, ElementType.F32);
        NativeBuffer b = NativeBuffer.allocate(4 * 3, ElementType.F32);
        NativeBuffer c = NativeBuffer.allocate(7 * 3, ElementType.F32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Matmul.of(View.matrix(a, 0, 7, 5), View.matrix(b, 0, 4, 3), null, View.matrix(c, 0, 7, 3), false));
        assertTrue(e.getMessage().contains("[7, 5]") && e.getMessage().contains("[4, 3]"), e.getMessage());
    }

    @Test
    void otherBadShapesAndTypes() {
        NativeBuffer a = NativeBuffer.allocate(64, ElementType.F32);
        NativeBuffer h = NativeBuffer.allocate(64, ElementType.BF16);
        View a75 = View.matrix(a, 0, 7, 5), b53 = View.matrix(a, 0, 5, 3);
        assertThrows(IllegalArgumentException.class,
                () -> Matmul.of(a75, b53, null, View.matrix(a, 0, 7, 4), false), "wrong C");
        assertThrows(IllegalArgumentException.class,
                () -> Matmul.of(a75, b53, View.vector(a, 0, 4), View.matrix(a, 0, 7, 3), false), "wrong bias");
        assertThrows(IllegalArgumentException.class,
                () -> Matmul.of(a75, View.matrix(h, 0, 5, 3), null, View.matrix(a, 0, 7, 3), false), "f32·bf16");
        assertThrows(IllegalArgumentException.class,
                () -> Matmul.of(View.matrix(h, 0, 7, 5), View.matrix(h, 0, 5, 3), null, View.matrix(h, 0, 7, 3),
                        false), "bf16 C");
        assertThrows(IllegalArgumentException.class,
                () -> Matmul.of(View.contiguous(a, 0, 2, 3, 2), View.contiguous(a, 0, 3, 2, 2), null,
                        View.contiguous(a, 0, 3, 3, 2), false), "batch 2 vs 3");
        assertThrows(IllegalArgumentException.class,
                () -> Matmul.of(a75, View.contiguous(a, 0, 1, 5, 3), null, View.contiguous(a, 0, 1, 7, 3), false),
                "ranks differ");
        assertThrows(IllegalArgumentException.class,
                () -> Reorder.of(View.matrix(a, 0, 7, 5), View.matrix(h, 0, 5, 7)), "reorder dims");
        assertThrows(IllegalArgumentException.class, () -> View.matrix(a, 10, 7, 8), "view past the end");
        assertThrows(IllegalArgumentException.class, () -> new View(a, 0, new long[] {2, 2}, new long[] {1}));
    }

    // ---- run(): no allocation, one thread, close ----

    @Test
    void runAllocatesNothing() {
        Random r = new Random(16);
        NativeBuffer a = random(16 * 16, r), b = random(16 * 16, r), c = random(16 * 16, r);
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Matmul mm = Matmul.of(View.matrix(a, 0, 16, 16), View.matrix(b, 0, 16, 16), View.vector(a, 0, 16),
                View.matrix(c, 0, 16, 16), true)) {
            for (int i = 0; i < 20_000; i++) {
                mm.run();
            }
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 10_000; i++) {
                mm.run();
            }
            long allocated = mx.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < 1024, "10,000 runs allocated " + allocated + " bytes");
        }
    }

    @Test
    void runPinsItsThreadToOneOpenMpThread() throws Exception {
        assertTrue(Dnnl.canPinThreads(), Dnnl::threadControlProblem);
        assertEquals(1, Dnnl.openMpRuntimes().size(), () -> "OpenMP runtimes: " + Dnnl.openMpRuntimes());
        Random r = new Random(17);
        NativeBuffer a = random(64 * 64, r), b = random(64 * 64, r), c = random(64 * 64, r);
        try (Matmul mm = Matmul.of(View.matrix(a, 0, 64, 64), View.matrix(b, 0, 64, 64), null,
                View.matrix(c, 0, 64, 64), false)) {
            AtomicReference<int[]> seen = new AtomicReference<>();
            Thread other = new Thread(() -> {
                org.nd4j.nativeblas.NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(2);
                int before = Dnnl.maxThreadsOfCurrentThread();
                mm.run();
                seen.set(new int[] {before, Dnnl.maxThreadsOfCurrentThread()});
            });
            other.start();
            other.join();
            assertEquals(2, seen.get()[0], "the new thread was set to 2 OpenMP threads");
            assertEquals(1, seen.get()[1], "run() put it back to 1");
        }
        System.out.println("oneDNN " + Dnnl.version() + ", ISA " + Dnnl.cpuIsa() + ", OpenMP " + Dnnl.openMpRuntimes());
    }

    @Test
    void closedPrimitivesAndBuffersRefuseToRun() {
        NativeBuffer a = NativeBuffer.allocate(4, ElementType.F32), c = NativeBuffer.allocate(4, ElementType.F32);
        Matmul mm = Matmul.of(View.matrix(a, 0, 2, 2), View.matrix(a, 0, 2, 2), null, View.matrix(c, 0, 2, 2), false);
        mm.run();
        a.close();
        assertTrue(a.isClosed());
        assertThrows(IllegalStateException.class, mm::run);
        assertThrows(IllegalStateException.class, a::bytes);
        mm.close();
        mm.close();
        assertThrows(IllegalStateException.class, mm::run);
    }

    @Test
    void buffersAreAlignedAndZeroed() {
        for (int n : new int[] {1, 3, 1000, 12345}) {
            for (ElementType t : ElementType.values()) {
                NativeBuffer b = NativeBuffer.allocate(n, t);
                assertEquals(0, b.address() % 64);
                assertEquals((long) n * t.bytes, b.bytes().capacity());
                ByteBuffer bytes = b.bytes();
                for (int i = 0; i < bytes.capacity(); i++) {
                    assertEquals(0, bytes.get(i));
                }
                assertEquals(java.nio.ByteOrder.nativeOrder(), b.slice(0, 1).order());
            }
        }
        NativeBuffer f = NativeBuffer.allocate(10, ElementType.F32);
        f.slice(3, 2).putFloat(4, 2.5f);
        assertEquals(2.5f, f.bytes().getFloat(16));
        assertThrows(IndexOutOfBoundsException.class, () -> f.slice(9, 2));
        assertFalse(f.isClosed());
    }

    // ---- helpers ----

    /** C [m,n] (+)= A [m,k] · B [k,n] (+ bias), each operand optionally stored transposed. */
    private static void check(int m, int k, int n, boolean withBias, boolean accumulate, boolean transA,
                              boolean transB, long seed) {
        Random r = new Random(seed);
        NativeBuffer a = random(m * k, r), b = random(k * n, r), c = random(m * n, r);
        NativeBuffer bias = withBias ? random(n, r) : null;
        View av = transA ? View.matrix(a, 0, k, m).transposed() : View.matrix(a, 0, m, k);
        View bv = transB ? View.matrix(b, 0, n, k).transposed() : View.matrix(b, 0, k, n);
        View cv = View.matrix(c, 0, m, n);
        View biasv = withBias ? View.vector(bias, 0, n) : null;
        double[][] expect = reference(av, bv, biasv, cv, accumulate ? read(c) : null);
        try (Matmul mm = Matmul.of(av, bv, biasv, cv, accumulate)) {
            mm.run();
        }
        assertClose(expect, cv, m + "×" + k + "·" + k + "×" + n);
    }

    /**
     * {ref, Σ|a·b| + |bias| + |c₀|} per element of C in C's logical row-major order; batch dims of size 1 in A or B
     * broadcast.
     */
    private static double[][] reference(View a, View b, View bias, View c, double[] c0) {
        int r = c.rank();
        long m = c.dim(-2), n = c.dim(-1), k = a.dim(-1);
        long total = c.size();
        double[] value = new double[(int) total], mag = new double[(int) total];
        long[] idx = new long[r];
        for (int e = 0; e < total; e++) {
            long rem = e;
            for (int i = r - 1; i >= 0; i--) {
                idx[i] = rem % c.dim(i);
                rem /= c.dim(i);
            }
            long[] ia = idx.clone(), ib = idx.clone();
            for (int i = 0; i < r - 2; i++) {
                ia[i] = a.dim(i) == 1 ? 0 : idx[i];
                ib[i] = b.dim(i) == 1 ? 0 : idx[i];
            }
            double sum = 0, abs = 0;
            for (long kk = 0; kk < k; kk++) {
                ia[r - 1] = kk;
                ib[r - 2] = kk;
                ib[r - 1] = idx[r - 1];
                double p = get(a.buffer(), a.indexOf(ia)) * get(b.buffer(), b.indexOf(ib));
                sum += p;
                abs += Math.abs(p);
            }
            double extra = 0;
            if (bias != null) {
                double bv = get(bias.buffer(), bias.offset() + idx[r - 1] * bias.stride(-1));
                sum += bv;
                extra += Math.abs(bv);
            }
            if (c0 != null) {
                double prior = c0[(int) c.indexOf(idx)];
                sum += prior;
                extra += Math.abs(prior);
            }
            value[e] = sum;
            mag[e] = abs;
            // tolerance term stored with the magnitudes: see the class comment
            mag[e] = 2 * (k + 1) * U * abs + U * extra;
            assert m > 0 && n > 0;
        }
        return new double[][] {value, mag};
    }

    private static void assertClose(double[][] expect, View c, String what) {
        int r = c.rank();
        long[] idx = new long[r];
        int bad = 0;
        String first = null;
        double worst = 0;
        for (int e = 0; e < expect[0].length; e++) {
            long rem = e;
            for (int i = r - 1; i >= 0; i--) {
                idx[i] = rem % c.dim(i);
                rem /= c.dim(i);
            }
            double got = get(c.buffer(), c.indexOf(idx));
            double err = Math.abs(got - expect[0][e]);
            worst = Math.max(worst, err / (expect[1][e] + 1e-30));
            if (!(err <= expect[1][e] + 1e-30)) {
                if (first == null) {
                    first = "element " + e + ": got " + got + ", expected " + expect[0][e] + " ± " + expect[1][e];
                }
                bad++;
            }
        }
        if (bad > 0) {
            fail(what + ": " + bad + " of " + expect[0].length + " elements off; first " + first);
        }
        assertTrue(worst <= 1, what + " worst error / tolerance " + worst);
    }

    /** Uniform in [-1, 1). */
    private static NativeBuffer random(long n, Random r) {
        NativeBuffer buf = NativeBuffer.allocate(n, ElementType.F32);
        ByteBuffer bytes = buf.bytes();
        for (int i = 0; i < n; i++) {
            bytes.putFloat(4 * i, (float) (2 * r.nextDouble() - 1));
        }
        return buf;
    }

    /** A bf16 copy of an f32 buffer, made by a oneDNN reorder and checked against {@link #bf16(float)}. */
    private static NativeBuffer toBf16(NativeBuffer f32) {
        NativeBuffer out = NativeBuffer.allocate(f32.elements(), ElementType.BF16);
        try (Reorder reorder = Reorder.of(View.vector(f32, 0, f32.elements()), View.vector(out, 0, out.elements()))) {
            reorder.run();
        }
        ByteBuffer s = f32.bytes(), d = out.bytes();
        for (int i = 0; i < f32.elements(); i++) {
            assertEquals(bf16(s.getFloat(4 * i)), d.getShort(2 * i), "reorder of element " + i);
        }
        return out;
    }

    /** Round to nearest even of the upper 16 bits of a (finite) float. */
    private static short bf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    private static double get(NativeBuffer buf, long index) {
        ByteBuffer b = buf.bytes();
        if (buf.type() == ElementType.F32) {
            return b.getFloat((int) (4 * index));
        }
        return Float.intBitsToFloat((b.getShort((int) (2 * index)) & 0xFFFF) << 16);
    }

    private static double[] read(NativeBuffer buf) {
        double[] out = new double[(int) buf.elements()];
        for (int i = 0; i < out.length; i++) {
            out[i] = get(buf, i);
        }
        return out;
    }
}
