package io.ringformer.zoo.fused;

import java.nio.ByteBuffer;

/**
 * Runs every {@link Kernels} method on small buffers until the JIT has compiled it, in a daemon thread started when
 * a training process starts. Vector API code is hundreds of times slower in the interpreter than compiled (each
 * lane-wise operation allocates), so without this the first evaluation and the first steps of every worker run
 * interpreted for seconds; started first thing, the compilation overlaps the process's set-up (reading the config,
 * fitting the tokenizer, loading native libraries, building the model), which leaves a core idle for a single
 * worker. The results are thrown away; the kernels have no state.
 */
public final class KernelWarmUp {

    /** Calls of each kernel: past C2's thresholds (tiered compilation: ~5,000 invocations or loop back-edges). */
    static final int ROUNDS = 6_000;

    private static final int ROWS = 4;
    private static final int WIDTH = 32;
    private static final int HEADS = 2;

    private KernelWarmUp() {}

    /** Starts warming {@link Kernels#best()} in a daemon thread, when the Vector API kernels are the ones in use. */
    public static void startInBackground() {
        if (!VectorKernels.isAvailable()) {
            return;
        }
        Thread thread = new Thread(() -> run(Kernels.best(), ROUNDS), "kernel-warm-up");
        thread.setDaemon(true);
        thread.setPriority(Thread.MIN_PRIORITY);
        thread.start();
    }

    /** Every kernel, {@code rounds} times, on rows of {@value #WIDTH} values. */
    static void run(Kernels kernels, int rounds) {
        int n = ROWS * WIDTH;
        int groups = HEADS;                     // one sequence of ROWS rows, HEADS heads
        ByteBuffer x = buffer(n, 0.5f);
        ByteBuffer y = buffer(n, 0f);
        ByteBuffer dy = buffer(n, 0.25f);
        ByteBuffer dx = buffer(n, 0f);
        ByteBuffer gain = buffer(WIDTH, 1f);
        ByteBuffer bias = buffer(WIDTH, 0f);
        ByteBuffer dGain = buffer(WIDTH, 0f);
        ByteBuffer dBias = buffer(WIDTH, 0f);
        ByteBuffer mean = buffer(ROWS, 0f);
        ByteBuffer rstd = buffer(ROWS, 0f);
        ByteBuffer slope = buffer(n, 0f);
        ByteBuffer scores = buffer(groups * ROWS * ROWS, 0.1f);
        ByteBuffer dScores = buffer(groups * ROWS * ROWS, 0.1f);
        ByteBuffer bf16 = buffer(n, 0f);
        ByteBuffer table = buffer(n, 0.01f);
        ByteBuffer dTable = buffer(n, 0f);
        ByteBuffer qkv = buffer(ROWS * 3 * WIDTH, 0.3f);
        ByteBuffer angles = buffer(ROWS * WIDTH / HEADS / 2, 0.5f);
        int[] tokens = {0, 1, 2, 3};
        int[] keys = {ROWS - 1};
        for (int i = 0; i < n; i++) {
            x.putFloat(4 * i, (i % 7) * 0.1f);
        }
        for (int round = 0; round < rounds; round++) {
            kernels.layerNorm(x, gain, bias, y, mean, rstd, ROWS, WIDTH, 1e-12f);
            kernels.layerNormBackward(dy, x, gain, mean, rstd, dx, dGain, dBias, ROWS, WIDTH);
            kernels.gelu(x, y, slope, n);
            kernels.gelu(x, y, null, n);
            kernels.geluBackward(dy, slope, dx, n);
            kernels.causalSoftmax(scores, groups, ROWS, HEADS, 0.5f, null);
            kernels.causalSoftmaxBackward(scores, dScores, groups, ROWS, 0.5f);
            kernels.keySoftmax(scores, groups, ROWS, HEADS, 0.5f, keys);
            kernels.keySoftmaxBackward(scores, dScores, groups, ROWS, HEADS, 0.5f, keys);
            kernels.crossEntropy(x, tokens, 0, dx, ROWS, WIDTH, 1f);
            kernels.crossEntropyLoss(x, tokens, 0, ROWS, WIDTH);
            kernels.columnSums(dy, dBias, ROWS, WIDTH);
            kernels.add(x, dy, y, n);
            kernels.zero(dx, n);
            kernels.embed(tokens, 0, table, 1f, table, y, ROWS, ROWS, WIDTH);
            kernels.embedBackward(tokens, 0, dy, 1f, dTable, dTable, ROWS, ROWS, WIDTH);
            kernels.rope(qkv, ROWS, ROWS, HEADS, WIDTH / HEADS, angles, angles, (round & 1) == 0);
            kernels.toBf16(x, bf16, n);
        }
    }

    private static ByteBuffer buffer(int floats, float value) {
        ByteBuffer bytes = NativeBuffer.allocate(floats, ElementType.F32).bytes();
        for (int i = 0; i < floats; i++) {
            bytes.putFloat(4 * i, value);
        }
        return bytes;
    }
}
