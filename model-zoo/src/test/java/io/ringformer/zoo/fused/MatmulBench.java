package io.ringformer.zoo.fused;

import java.io.File;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Function;

/**
 * Measures (never asserts) oneDNN matmuls at the GPT's shapes on one thread: GFLOP/s as the median of several
 * timed batches after warm-up, f32 and bf16; the time of a reorder f32→bf16; the fixed cost of {@code run()}; and
 * which layouts oneDNN accepts, with the kernel it picks. Not a test: run it by hand, e.g.
 *
 * <pre>
 * mvn -q -o -pl model-zoo dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt -Dmdep.includeScope=test
 * java --add-modules jdk.incubator.vector -cp model-zoo/target/classes:model-zoo/target/test-classes:$(cat /tmp/cp.txt) \
 *      io.ringformer.zoo.fused.MatmulBench
 * </pre>
 */
public final class MatmulBench {

    private static final int REPEATS = 11;
    private static final double BATCH_SECONDS = 0.02;

    private MatmulBench() {
    }

    public static void main(String[] args) {
        if (!Dnnl.isAvailable()) {
            System.out.println("oneDNN unavailable: " + Dnnl.unavailableReason());
            return;
        }
        System.out.println("oneDNN " + Dnnl.version() + ", ISA " + Dnnl.cpuIsa() + ", OMP_NUM_THREADS="
                + System.getenv("OMP_NUM_THREADS"));
        Random r = new Random(1);
        // loads ND4J for the thread pinning before the thread count is taken
        Matmul.of(View.matrix(random(1, r), 0, 1, 1), View.matrix(random(1, r), 0, 1, 1), null,
                View.matrix(random(1, r), 0, 1, 1), false).close();
        int threadsBefore = threads();
        System.out.println("pinning: " + (Dnnl.canPinThreads() ? "on" : Dnnl.threadControlProblem())
                + "; omp_get_max_threads() here: " + Dnnl.maxThreadsOfCurrentThread() + "; OpenMP runtimes "
                + Dnnl.openMpRuntimes());

        layouts(r);

        System.out.println();
        System.out.println("| product | shape | f32 GFLOP/s | f32 µs | f32 kernel (scratchpad KiB) | bf16 GFLOP/s | bf16 µs | bf16 kernel (scratchpad KiB) |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        int m = 768;
        // forward projections: X [768, K] · W [K, N]
        plain("QKV projection", m, 128, 384, r);
        plain("MLP up", m, 128, 512, r);
        plain("MLP down", m, 512, 128, r);
        plain("attention out projection", m, 128, 128, r);
        plain("LM head", m, 128, 65, r);
        // weight gradients: dW [K, N] = Xᵀ [K, 768] · dY [768, N], X stored [768, K]
        weightGradient("dW QKV", m, 128, 384, r);
        weightGradient("dW MLP up", m, 128, 512, r);
        weightGradient("dW MLP down", m, 512, 128, r);
        weightGradient("dW LM head", m, 128, 65, r);
        // input gradients: dX [768, K] = dY [768, N] · Wᵀ [N, K], W stored [K, N]
        inputGradient("dX QKV", m, 128, 384, r);
        inputGradient("dX MLP down", m, 512, 128, r);
        // attention, B=12, H=4, T=64, dh=32
        attention(r);
        // strided layouts at a GPT shape
        row("C column block (row stride 3N)", m + "×128·128×128", t -> Matmul.of(
                View.matrix(operand(m * 128, t, r), 0, m, 128), View.matrix(operand(128 * 128, t, r), 0, 128, 128),
                null, View.matrix(NativeBuffer.allocate(3L * m * 128, ElementType.F32), 128, m, 128, 384), false));
        row("A column block (row stride 3K)", m + "×128·128×128", t -> Matmul.of(
                View.matrix(operand(m * 384, t, r), 128, m, 128, 384), View.matrix(operand(128 * 128, t, r), 0, 128, 128),
                null, View.matrix(NativeBuffer.allocate((long) m * 128, ElementType.F32), 0, m, 128), false));
        row("C column-major (ref)", m + "×128·128×128", t -> Matmul.ofAnyKernel(
                View.matrix(operand(m * 128, t, r), 0, m, 128), View.matrix(operand(128 * 128, t, r), 0, 128, 128),
                null, View.matrix(NativeBuffer.allocate((long) m * 128, ElementType.F32), 0, 128, m).transposed(),
                false));

        System.out.println();
        reorder(768, 512, r);
        reorder(768, 128, r);
        headReorders(r);
        overhead(r);
        System.out.println("threads of the process: " + threadsBefore + " after warm-up, " + threads() + " at the end");
    }

    // ---- shapes ----

    private static void plain(String what, int m, int k, int n, Random r) {
        row(what, m + "×" + k + "·" + k + "×" + n, t -> {
            NativeBuffer a = operand(m * k, t, r), b = operand(k * n, t, r);
            return Matmul.of(View.matrix(a, 0, m, k), View.matrix(b, 0, k, n), null,
                    View.matrix(NativeBuffer.allocate((long) m * n, ElementType.F32), 0, m, n), false);
        });
        row(what + " + bias", m + "×" + k + "·" + k + "×" + n, t -> {
            NativeBuffer a = operand(m * k, t, r), b = operand(k * n, t, r);
            return Matmul.of(View.matrix(a, 0, m, k), View.matrix(b, 0, k, n), View.vector(random(n, r), 0, n),
                    View.matrix(NativeBuffer.allocate((long) m * n, ElementType.F32), 0, m, n), false);
        });
    }

    private static void weightGradient(String what, int m, int k, int n, Random r) {
        row(what + " (Aᵀ, +=)", k + "×" + m + "·" + m + "×" + n, t -> {
            NativeBuffer x = operand(m * k, t, r), dy = operand(m * n, t, r);
            return Matmul.of(View.matrix(x, 0, m, k).transposed(), View.matrix(dy, 0, m, n), null,
                    View.matrix(NativeBuffer.allocate((long) k * n, ElementType.F32), 0, k, n), true);
        });
    }

    private static void inputGradient(String what, int m, int k, int n, Random r) {
        row(what + " (Bᵀ)", m + "×" + n + "·" + n + "×" + k, t -> {
            NativeBuffer dy = operand(m * n, t, r), w = operand(k * n, t, r);
            return Matmul.of(View.matrix(dy, 0, m, n), View.matrix(w, 0, k, n).transposed(), null,
                    View.matrix(NativeBuffer.allocate((long) m * k, ElementType.F32), 0, m, k), false);
        });
    }

    private static void attention(Random r) {
        int bsz = 12, h = 4, t = 64, dh = 32, d = h * dh, w = 3 * d;
        row("scores q·kᵀ, contiguous", "[12,4,64,32]·[12,4,32,64]", ty -> {
            NativeBuffer q = operand(bsz * h * t * dh, ty, r), k = operand(bsz * h * dh * t, ty, r);
            return Matmul.of(View.contiguous(q, 0, bsz, h, t, dh), View.contiguous(k, 0, bsz, h, dh, t), null,
                    View.contiguous(NativeBuffer.allocate((long) bsz * h * t * t, ElementType.F32), 0, bsz, h, t, t),
                    false);
        });
        row("scores q·kᵀ, heads of qkv", "[12,4,64,32]·[12,4,32,64]", ty -> {
            NativeBuffer qkv = operand(bsz * t * w, ty, r);
            return Matmul.of(View.heads(qkv, 0, bsz, h, t, dh, w), View.heads(qkv, d, bsz, h, t, dh, w).transposed(),
                    null, View.contiguous(NativeBuffer.allocate((long) bsz * h * t * t, ElementType.F32), 0, bsz, h,
                            t, t), false);
        });
        row("y = P·v into y heads", "[12,4,64,64]·[12,4,64,32]", ty -> {
            NativeBuffer qkv = operand(bsz * t * w, ty, r), p = operand(bsz * h * t * t, ty, r);
            return Matmul.of(View.contiguous(p, 0, bsz, h, t, t), View.heads(qkv, 2 * d, bsz, h, t, dh, w), null,
                    View.heads(NativeBuffer.allocate((long) bsz * t * d, ElementType.F32), 0, bsz, h, t, dh, d), false);
        });
        row("y = P·v, contiguous", "[12,4,64,64]·[12,4,64,32]", ty -> {
            NativeBuffer v = operand(bsz * h * t * dh, ty, r), p = operand(bsz * h * t * t, ty, r);
            return Matmul.of(View.contiguous(p, 0, bsz, h, t, t), View.contiguous(v, 0, bsz, h, t, dh), null,
                    View.contiguous(NativeBuffer.allocate((long) bsz * h * t * dh, ElementType.F32), 0, bsz, h, t, dh),
                    false);
        });
        row("dV = Pᵀ·dY into dqkv heads", "[12,4,64,64]·[12,4,64,32]", ty -> {
            NativeBuffer dy = operand(bsz * t * d, ty, r), p = operand(bsz * h * t * t, ty, r);
            return Matmul.of(View.contiguous(p, 0, bsz, h, t, t).transposed(), View.heads(dy, 0, bsz, h, t, dh, d),
                    null, View.heads(NativeBuffer.allocate((long) bsz * t * w, ElementType.F32), 2 * d, bsz, h, t, dh,
                            w), false);
        });
    }

    private static void row(String what, String shape, Function<ElementType, Matmul> make) {
        StringBuilder line = new StringBuilder("| " + what + " | " + shape + " |");
        for (ElementType t : ElementType.values()) {
            try (Matmul mm = make.apply(t)) {
                double seconds = time(mm::run);
                line.append(String.format(" %.0f | %.1f | %s (%d) |", mm.flops() / seconds / 1e9, seconds * 1e6,
                        mm.implementation(), mm.scratchpadBytes() / 1024));
            } catch (IllegalArgumentException e) {
                line.append(" rejected | | ").append(e.getMessage()).append(" |");
            }
        }
        System.out.println(line);
    }

    private static void reorder(int rows, int cols, Random r) {
        NativeBuffer src = random(rows * cols, r);
        NativeBuffer dst = NativeBuffer.allocate((long) rows * cols, ElementType.BF16);
        try (Reorder re = Reorder.of(View.matrix(src, 0, rows, cols), View.matrix(dst, 0, rows, cols))) {
            double s = time(re::run);
            System.out.printf("reorder f32→bf16 [%d,%d]: %.2f µs (%.1f GB/s read+write), %s%n", rows, cols, s * 1e6,
                    rows * cols * 6.0 / s / 1e9, re.implementation());
        }
        try (Reorder re = Reorder.of(View.matrix(src, 0, rows, cols).transposed(),
                View.matrix(dst, 0, cols, rows))) {
            double s = time(re::run);
            System.out.printf("reorder f32→bf16 transposing [%d,%d]ᵀ: %.2f µs, %s%n", rows, cols, s * 1e6,
                    re.implementation());
        }
    }

    /** Splitting heads out of qkv [768, 384] into contiguous [12,4,64,32] and merging them back into y [768, 128]. */
    private static void headReorders(Random r) {
        int bsz = 12, h = 4, t = 64, dh = 32, d = h * dh, w = 3 * d;
        NativeBuffer qkv = random(bsz * t * w, r);
        for (ElementType ty : ElementType.values()) {
            NativeBuffer q = NativeBuffer.allocate((long) bsz * h * t * dh, ty);
            try (Reorder re = Reorder.of(View.heads(qkv, 0, bsz, h, t, dh, w), View.contiguous(q, 0, bsz, h, t, dh))) {
                System.out.printf("reorder q heads of f32 qkv → contiguous %s [12,4,64,32]: %.2f µs, %s%n", ty,
                        time(re::run) * 1e6, re.implementation());
            }
        }
        NativeBuffer yh = random(bsz * h * t * dh, r), y = NativeBuffer.allocate((long) bsz * t * d, ElementType.F32);
        try (Reorder re = Reorder.of(View.contiguous(yh, 0, bsz, h, t, dh), View.heads(y, 0, bsz, h, t, dh, d))) {
            System.out.printf("reorder f32 contiguous [12,4,64,32] → y heads [768,128]: %.2f µs, %s%n",
                    time(re::run) * 1e6, re.implementation());
        }
    }

    private static void overhead(Random r) {
        for (int n : new int[] {1, 8}) {
            NativeBuffer a = random(n * n, r), b = random(n * n, r), c = random(n * n, r);
            try (Matmul mm = Matmul.of(View.matrix(a, 0, n, n), View.matrix(b, 0, n, n), null, View.matrix(c, 0, n, n),
                    false)) {
                System.out.printf("run() of a %d×%d·%d×%d f32 matmul: %.2f µs (%s)%n", n, n, n, n,
                        time(mm::run) * 1e6, mm.implementation());
            }
        }
        NativeBuffer a = random(64, r), d = NativeBuffer.allocate(64, ElementType.BF16);
        try (Reorder re = Reorder.of(View.vector(a, 0, 64), View.vector(d, 0, 64))) {
            System.out.printf("run() of a 64-element reorder: %.2f µs%n", time(re::run) * 1e6);
        }
    }

    // ---- layouts ----

    /** Which operand layouts oneDNN takes, and the kernel it picks (f32 and bf16). */
    private static void layouts(Random r) {
        System.out.println();
        System.out.println("layouts (M=6, K=5, N=4; B=2, H=3, T=5, dh=4):");
        int m = 6, k = 5, n = 4;
        int bsz = 2, h = 3, tt = 5, dh = 4, d = h * dh;
        for (ElementType t : ElementType.values()) {
            probe(t + " plain", () -> new View[] {View.matrix(operand(m * k, t, r), 0, m, k),
                View.matrix(operand(k * n, t, r), 0, k, n), f32(m, n)});
            probe(t + " A and B transposed", () -> new View[] {View.matrix(operand(m * k, t, r), 0, k, m).transposed(),
                View.matrix(operand(k * n, t, r), 0, n, k).transposed(), f32(m, n)});
            probe(t + " C column-major (transposed view)", () -> new View[] {View.matrix(operand(m * k, t, r), 0, m, k),
                View.matrix(operand(k * n, t, r), 0, k, n),
                View.matrix(NativeBuffer.allocate(m * n, ElementType.F32), 0, n, m).transposed()});
            probe(t + " C column block (row stride 3N)", () -> new View[] {View.matrix(operand(m * k, t, r), 0, m, k),
                View.matrix(operand(k * n, t, r), 0, k, n),
                View.matrix(NativeBuffer.allocate(3 * m * n, ElementType.F32), n, m, n, 3 * n)});
            probe(t + " A and B column blocks", () -> new View[] {View.matrix(operand(m * 2 * k, t, r), k, m, k, 2 * k),
                View.matrix(operand(k * 2 * n, t, r), n, k, n, 2 * n), f32(m, n)});
            probe(t + " A with no unit stride (every 2nd column)", () -> new View[] {
                new View(operand(m * 2 * k, t, r), 0, new long[] {m, k}, new long[] {2 * k, 2}),
                View.matrix(operand(k * n, t, r), 0, k, n), f32(m, n)});
            probe(t + " C with no unit stride", () -> new View[] {View.matrix(operand(m * k, t, r), 0, m, k),
                View.matrix(operand(k * n, t, r), 0, k, n),
                new View(NativeBuffer.allocate(4 * m * n, ElementType.F32), 0, new long[] {m, n},
                        new long[] {2 * n, 2})});
            probe(t + " q·kᵀ on heads of qkv → contiguous scores", () -> new View[] {
                View.heads(operand(bsz * tt * 3 * d, t, r), 0, bsz, h, tt, dh, 3 * d),
                View.heads(operand(bsz * tt * 3 * d, t, r), d, bsz, h, tt, dh, 3 * d).transposed(),
                View.contiguous(NativeBuffer.allocate(bsz * h * tt * tt, ElementType.F32), 0, bsz, h, tt, tt)});
            probe(t + " scores [B,H,T,T] with H outermost in memory", () -> new View[] {
                View.heads(operand(bsz * tt * 3 * d, t, r), 0, bsz, h, tt, dh, 3 * d),
                View.heads(operand(bsz * tt * 3 * d, t, r), d, bsz, h, tt, dh, 3 * d).transposed(),
                new View(NativeBuffer.allocate(bsz * h * tt * tt, ElementType.F32), 0,
                        new long[] {bsz, h, tt, tt}, new long[] {tt * tt, bsz * tt * tt, tt, 1})});
            probe(t + " P·v → y heads", () -> new View[] {
                View.contiguous(operand(bsz * h * tt * tt, t, r), 0, bsz, h, tt, tt),
                View.heads(operand(bsz * tt * 3 * d, t, r), 2 * d, bsz, h, tt, dh, 3 * d),
                View.heads(NativeBuffer.allocate(bsz * tt * d, ElementType.F32), 0, bsz, h, tt, dh, d)});
            probe(t + " C = heads of y, transposed ([B,H,dh,T])", () -> new View[] {
                View.contiguous(operand(bsz * h * dh * tt, t, r), 0, bsz, h, dh, tt),
                View.contiguous(operand(bsz * h * tt * tt, t, r), 0, bsz, h, tt, tt),
                View.heads(NativeBuffer.allocate(bsz * tt * d, ElementType.F32), 0, bsz, h, tt, dh, d).transposed()});
        }
    }

    private static View f32(int m, int n) {
        return View.matrix(NativeBuffer.allocate((long) m * n, ElementType.F32), 0, m, n);
    }

    private interface Operands {
        View[] make();
    }

    private static void probe(String what, Operands operands) {
        View[] v = operands.make();
        try (Matmul mm = Matmul.of(v[0], v[1], null, v[2], false)) {
            mm.run();
            System.out.println("  " + what + ": " + mm.implementation());
        } catch (IllegalArgumentException e) {
            try (Matmul mm = Matmul.ofAnyKernel(v[0], v[1], null, v[2], false)) {
                System.out.println("  " + what + ": only " + mm.implementation() + " (Matmul.of refuses it)");
            } catch (IllegalArgumentException e2) {
                System.out.println("  " + what + ": REJECTED by oneDNN — " + e2.getMessage());
            }
        }
    }

    // ---- helpers ----

    /** Median seconds per call over {@link #REPEATS} batches, after a warm-up. */
    private static double time(Runnable run) {
        long t0 = System.nanoTime();
        int warm = 0;
        while (System.nanoTime() - t0 < 100_000_000L || warm < 20) {
            run.run();
            warm++;
        }
        double per = (System.nanoTime() - t0) / 1e9 / warm;
        int n = (int) Math.max(1, Math.min(1_000_000, BATCH_SECONDS / per));
        double[] samples = new double[REPEATS];
        for (int i = 0; i < REPEATS; i++) {
            long s = System.nanoTime();
            for (int j = 0; j < n; j++) {
                run.run();
            }
            samples[i] = (System.nanoTime() - s) / 1e9 / n;
        }
        Arrays.sort(samples);
        return samples[REPEATS / 2];
    }

    private static NativeBuffer operand(long n, ElementType type, Random r) {
        NativeBuffer f = random(n, r);
        if (type == ElementType.F32) {
            return f;
        }
        NativeBuffer h = NativeBuffer.allocate(n, ElementType.BF16);
        try (Reorder re = Reorder.of(View.vector(f, 0, n), View.vector(h, 0, n))) {
            re.run();
        }
        return h;
    }

    private static NativeBuffer random(long n, Random r) {
        NativeBuffer buf = NativeBuffer.allocate(n, ElementType.F32);
        java.nio.FloatBuffer fb = buf.bytes().asFloatBuffer();
        for (int i = 0; i < n; i++) {
            fb.put(i, (float) (2 * r.nextDouble() - 1));
        }
        return buf;
    }

    private static int threads() {
        String[] tasks = new File("/proc/self/task").list();
        return tasks == null ? -1 : tasks.length;
    }
}
