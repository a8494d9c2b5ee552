package io.ringformer.zoo.fused;

import java.nio.ByteBuffer;

/**
 * Gets the kernels compiled before the first step needs them.
 *
 * <p>Until C2 has compiled a Vector API loop, the loop runs the API's Java fallback (neither the interpreter nor C1
 * intrinsifies it), some 50× slower than compiled; on a cold start that was most of the seconds between "model
 * ready" and a fast step (JFR: ~280 of 345 samples in the fallback). A warm-up calls every kernel many times on
 * small buffers of its own, on a background thread, while the main thread reads the data and builds the model; the
 * JIT then compiles the same methods the step will call. Its results are thrown away and it shares no buffer with a
 * model, so it changes no number a model computes, only when the code that computes it is compiled.
 *
 * <p>How many calls it takes is the JIT's business (its thresholds, its queue, the other threads on the cores), so
 * the warm-up does not guess: it runs rounds of every kernel until a round has stopped getting faster — no new best
 * in {@link #PATIENCE_ROUNDS} rounds, a fraction of a second once compiled — or until
 * {@link #MAX_ROUNDS}.
 */
public final class KernelWarmup {

    /** Stop when this many rounds in a row were no faster than 0.9× the best round so far. */
    static final int PATIENCE_ROUNDS = 1_000;
    /** Stop after this many rounds whatever happens (tens of seconds of fallback on a slow machine). */
    static final int MAX_ROUNDS = 20_000;

    private static final int ROWS = 4;
    private static final int WIDTH = 128;             // a multiple of every vector width: no scalar tails
    private static final int HEADS = 2;
    private static final int LENGTH = 16;             // attention rows and keys per group
    private static final int GROUPS = HEADS * 2;      // B·H
    private static final int VOCAB = 67;              // not a multiple of a vector: the tails run too
    private static final int HEAD_DIM = WIDTH / HEADS;

    private final Kernels kernels;
    private final ByteBuffer x = filled(ROWS * WIDTH);
    private final ByteBuffer y = filled(ROWS * WIDTH);
    private final ByteBuffer dy = filled(ROWS * WIDTH);
    private final ByteBuffer dx = filled(ROWS * WIDTH);
    private final ByteBuffer gain = filled(WIDTH);
    private final ByteBuffer bias = filled(WIDTH);
    private final ByteBuffer dGain = filled(WIDTH);
    private final ByteBuffer dBias = filled(WIDTH);
    private final ByteBuffer mean = filled(ROWS);
    private final ByteBuffer rstd = filled(ROWS);
    private final ByteBuffer slope = filled(ROWS * WIDTH);
    private final ByteBuffer scores = filled(GROUPS * LENGTH * LENGTH);
    private final ByteBuffer dScores = filled(GROUPS * LENGTH * LENGTH);
    private final ByteBuffer logits = filled(ROWS * VOCAB);
    private final ByteBuffer dLogits = filled(ROWS * VOCAB);
    private final ByteBuffer wte = filled(VOCAB * WIDTH);
    private final ByteBuffer dWte = filled(VOCAB * WIDTH);
    private final ByteBuffer positions = filled(LENGTH * WIDTH);
    private final ByteBuffer dPositions = filled(LENGTH * WIDTH);
    private final ByteBuffer qkv = filled(ROWS * 3 * WIDTH);
    private final ByteBuffer cos = filled(LENGTH * HEAD_DIM / 2);
    private final ByteBuffer sin = filled(LENGTH * HEAD_DIM / 2);
    private final ByteBuffer halves = NativeBuffer.allocate(ROWS * WIDTH, ElementType.BF16).bytes();
    private final float[] array = new float[ROWS * WIDTH];
    private final int[] tokens = {3, 66, 0, 5};
    private final int[] targets = {66, 0, 5, -1};   // -1: a row the loss ignores
    private final float[] alibi = {0.5f, 0.25f};
    private final int[] keys = {LENGTH, LENGTH - 5};

    private KernelWarmup(Kernels kernels) {
        this.kernels = kernels;
    }

    /**
     * Starts warming {@code kernels} on a daemon thread of low priority and returns it; a failure there is the
     * thread's alone (the step would meet it anyway).
     */
    public static Thread start(Kernels kernels) {
        Thread thread = new Thread(() -> untilCompiled(kernels), "kernel-warmup");
        thread.setDaemon(true);
        thread.setPriority(Thread.MIN_PRIORITY);
        thread.start();
        return thread;
    }

    /** Rounds of every kernel until they stop getting faster; returns how many ran. */
    static int untilCompiled(Kernels kernels) {
        KernelWarmup warmup = new KernelWarmup(kernels);
        long bestNs = Long.MAX_VALUE;
        int sinceBest = 0;
        int rounds = 0;
        while (sinceBest < PATIENCE_ROUNDS && rounds < MAX_ROUNDS) {
            long startNs = System.nanoTime();
            warmup.everyKernelOnce();
            long roundNs = System.nanoTime() - startNs;
            rounds++;
            if (roundNs < 0.9 * bestNs) {
                bestNs = roundNs;
                sinceBest = 0;
            } else {
                sinceBest++;
            }
        }
        return rounds;
    }

    /** Calls every kernel {@code rounds} times, on the calling thread. */
    static void run(Kernels kernels, int rounds) {
        KernelWarmup warmup = new KernelWarmup(kernels);
        for (int round = 0; round < rounds; round++) {
            warmup.everyKernelOnce();
        }
    }

    /** Every method of {@link Kernels}, in about the order of a step (KernelWarmupTest checks that none is left out). */
    private void everyKernelOnce() {
        kernels.embed(tokens, 0, wte, 1f, positions, x, ROWS, LENGTH, WIDTH);
        kernels.layerNorm(x, gain, bias, y, mean, rstd, ROWS, WIDTH, 1e-5f);
        kernels.toBf16(y, halves, ROWS * WIDTH);
        kernels.rope(qkv, ROWS, LENGTH, HEADS, HEAD_DIM, cos, sin, false);
        kernels.causalSoftmax(scores, GROUPS, LENGTH, HEADS, 0.125f, alibi);
        kernels.causalSoftmaxBackward(scores, dScores, GROUPS, LENGTH, 0.125f);
        kernels.keySoftmax(scores, GROUPS, LENGTH, HEADS, 0.125f, keys);
        kernels.keySoftmaxBackward(scores, dScores, GROUPS, LENGTH, HEADS, 0.125f, keys);
        float max = kernels.biasRow(scores, 0, LENGTH, LENGTH / 2, 0.125f, 0.5f);
        float sum = kernels.expRow(scores, 0, LENGTH, max);
        kernels.scaleRow(scores, 0, LENGTH, 1f / sum);
        float rowDot = kernels.dot(scores, 0, dScores, 0, LENGTH);
        kernels.softmaxGradientRow(scores, dScores, 0, LENGTH, rowDot, 0.125f);
        kernels.gelu(x, y, slope, ROWS * WIDTH);
        kernels.gelu(x, y, null, ROWS * WIDTH);
        kernels.add(x, y, dx, ROWS * WIDTH);
        kernels.crossEntropy(logits, targets, 0, dLogits, ROWS, VOCAB, 1f);
        kernels.crossEntropyLoss(logits, targets, 0, ROWS, VOCAB);
        kernels.geluBackward(dy, slope, dx, ROWS * WIDTH);
        kernels.columnSums(dy, dBias, ROWS, WIDTH);
        kernels.layerNormBackward(dy, x, gain, mean, rstd, dx, dGain, dBias, ROWS, WIDTH);
        kernels.rope(qkv, ROWS, LENGTH, HEADS, HEAD_DIM, cos, sin, true);
        kernels.embedBackward(tokens, 0, dx, 1f, dWte, dPositions, ROWS, LENGTH, WIDTH);
        kernels.addToArray(dx, array, 0, ROWS * WIDTH);
        kernels.zero(dx, ROWS * WIDTH);
    }

    /** A buffer of n small values in (−1, 1) that vary, so that no kernel meets only zeros. */
    private static ByteBuffer filled(int n) {
        ByteBuffer buffer = NativeBuffer.allocate(n, ElementType.F32).bytes();
        for (int i = 0; i < n; i++) {
            buffer.putFloat(4 * i, (float) Math.sin(0.7 * i));
        }
        return buffer;
    }
}
