package io.ringformer.zoo.fused;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * ns per element of {@link VectorKernels} and {@link ScalarKernels} at the shapes of nanoGPT's CPU configuration
 * (batch 12 × block 64 = 768 rows, width 128, 4 heads of 32, MLP width 512, vocabulary 65): the median of 7 timed
 * repeats after warm-up, and the bytes a call allocates once warm. A report, not a test:
 *
 * <pre>
 * mvn -q -o -pl model-zoo test-compile
 * java --add-modules jdk.incubator.vector -cp model-zoo/target/classes:model-zoo/target/test-classes \
 *     io.ringformer.zoo.fused.KernelsBenchmark
 * </pre>
 */
public final class KernelsBenchmark {

    private static final int ROWS = 12 * 64;
    private static final int WIDTH = 128;
    private static final int MLP = 4 * WIDTH;
    private static final int HEADS = 4;
    private static final int LENGTH = 64;
    private static final int GROUPS = 12 * HEADS;
    private static final int VOCAB = 65;

    private KernelsBenchmark() {}

    public static void main(String[] args) {
        Map<String, double[]> results = new LinkedHashMap<>();
        Kernels[] implementations = {new VectorKernels(), new ScalarKernels()};
        for (int k = 0; k < implementations.length; k++) {
            for (Map.Entry<String, Call> entry : calls(implementations[k]).entrySet()) {
                double[] row = results.computeIfAbsent(entry.getKey(), key -> new double[4]);
                double[] measured = measure(entry.getValue());
                row[k] = measured[0];
                row[2 + k] = measured[1];
            }
        }
        System.out.printf("%-34s %10s %10s %8s %16s%n", "kernel (elements)", "vector", "scalar", "speed-up",
                          "bytes/call v, s");
        for (Map.Entry<String, double[]> entry : results.entrySet()) {
            double[] row = entry.getValue();
            System.out.printf("%-34s %10.3f %10.3f %7.1fx %8.0f, %.0f%n", entry.getKey(), row[0], row[1],
                              row[1] / row[0], row[2], row[3]);
        }
        System.out.println("(ns per element; " + implementations[0].name() + ")");
    }

    /** A kernel call over a number of elements. */
    private record Call(long elements, Runnable run) {}

    /** {median ns per element, bytes allocated per call once warm}. */
    private static double[] measure(Call call) {
        int calls = (int) Math.max(1, 2_000_000 / call.elements());
        long warmUntil = System.nanoTime() + 1_500_000_000L;
        while (System.nanoTime() < warmUntil) {
            call.run().run();
        }
        double[] nsPerElement = new double[7];
        for (int repeat = 0; repeat < nsPerElement.length; repeat++) {
            long start = System.nanoTime();
            for (int i = 0; i < calls; i++) {
                call.run().run();
            }
            nsPerElement[repeat] = (System.nanoTime() - start) / (double) calls / call.elements();
        }
        Arrays.sort(nsPerElement);
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < calls; i++) {
            call.run().run();
        }
        double allocated = (threads.getCurrentThreadAllocatedBytes() - before) / (double) calls;
        return new double[] {nsPerElement[nsPerElement.length / 2], allocated};
    }

    private static Map<String, Call> calls(Kernels k) {
        Random random = new Random(1);
        ByteBuffer x = uniform(random, ROWS * WIDTH);
        ByteBuffer y = uniform(random, ROWS * WIDTH);
        ByteBuffer dx = uniform(random, ROWS * WIDTH);
        ByteBuffer gain = uniform(random, WIDTH);
        ByteBuffer bias = uniform(random, WIDTH);
        ByteBuffer dGain = uniform(random, WIDTH);
        ByteBuffer dBias = uniform(random, WIDTH);
        ByteBuffer mean = uniform(random, ROWS);
        ByteBuffer rstd = uniform(random, ROWS);
        ByteBuffer hidden = uniform(random, ROWS * MLP);
        ByteBuffer hiddenOut = uniform(random, ROWS * MLP);
        ByteBuffer hiddenGrad = uniform(random, ROWS * MLP);
        ByteBuffer scores = uniform(random, GROUPS * LENGTH * LENGTH);
        ByteBuffer probabilities = uniform(random, GROUPS * LENGTH * LENGTH);
        ByteBuffer gradients = uniform(random, GROUPS * LENGTH * LENGTH);
        ByteBuffer dScores = uniform(random, GROUPS * LENGTH * LENGTH);
        ByteBuffer logits = uniform(random, ROWS * VOCAB);
        ByteBuffer dLogits = uniform(random, ROWS * VOCAB);
        int[] targets = random.ints(ROWS, 0, VOCAB).toArray();
        float[] slopes = {0.25f, 0.0625f, 0.015625f, 0.00390625f};
        ByteBuffer qkv = uniform(random, ROWS * 3 * WIDTH);
        int headDim = WIDTH / HEADS;
        ByteBuffer[] cosSin = KernelsTest.angles(LENGTH, headDim); // unit rotations: repeating them stays finite
        ByteBuffer wte = uniform(random, VOCAB * WIDTH);
        ByteBuffer positions = uniform(random, LENGTH * WIDTH);
        ByteBuffer dWte = uniform(random, VOCAB * WIDTH);
        ByteBuffer dPositions = uniform(random, LENGTH * WIDTH);
        ByteBuffer bf16 = ByteBuffer.allocateDirect(2 * ROWS * MLP).order(ByteOrder.nativeOrder());
        k.layerNorm(x, gain, bias, y, mean, rstd, ROWS, WIDTH, 1e-5f);

        Map<String, Call> calls = new LinkedHashMap<>();
        long matrices = (long) GROUPS * LENGTH * LENGTH;
        calls.put("gelu (768×512)", new Call(ROWS * MLP, () -> k.gelu(hidden, hiddenOut, null, ROWS * MLP)));
        calls.put("gelu with slope (768×512)",
                  new Call(ROWS * MLP, () -> k.gelu(hidden, hiddenOut, hiddenGrad, ROWS * MLP)));
        calls.put("geluBackward (768×512)",
                  new Call(ROWS * MLP, () -> k.geluBackward(hiddenOut, hiddenGrad, hiddenOut, ROWS * MLP)));
        calls.put("layerNorm (768×128)",
                  new Call(ROWS * WIDTH, () -> k.layerNorm(x, gain, bias, y, mean, rstd, ROWS, WIDTH, 1e-5f)));
        calls.put("layerNormBackward (768×128)", new Call(ROWS * WIDTH,
                () -> k.layerNormBackward(y, x, gain, mean, rstd, dx, dGain, dBias, ROWS, WIDTH)));
        calls.put("causalSoftmax (48×64×64, ALiBi)", new Call(matrices, () -> {
            copy(scores, probabilities);
            k.causalSoftmax(probabilities, GROUPS, LENGTH, HEADS, 0.18f, slopes);
        }));
        // In place, the backward pass would shrink dp towards subnormals, which are slow: it starts afresh each time.
        calls.put("causalSoftmaxBackward (48×64×64)", new Call(matrices, () -> {
            copy(gradients, dScores);
            k.causalSoftmaxBackward(probabilities, dScores, GROUPS, LENGTH, 0.18f);
        }));
        calls.put("  (the copy both of them include)", new Call(matrices, () -> copy(gradients, dScores)));
        calls.put("crossEntropy (768×65)",
                  new Call(ROWS * VOCAB, () -> k.crossEntropy(logits, targets, 0, dLogits, ROWS, VOCAB, 1f / ROWS)));
        calls.put("crossEntropyLoss (768×65)",
                  new Call(ROWS * VOCAB, () -> k.crossEntropyLoss(logits, targets, 0, ROWS, VOCAB)));
        calls.put("columnSums (768×512)", new Call(ROWS * MLP, () -> k.columnSums(hidden, hiddenGrad, ROWS, MLP)));
        calls.put("add (768×128)", new Call(ROWS * WIDTH, () -> k.add(x, y, dx, ROWS * WIDTH)));
        calls.put("rope (768×2×128 of q, k)", new Call(ROWS * 2 * WIDTH,
                () -> k.rope(qkv, ROWS, LENGTH, HEADS, headDim, cosSin[0], cosSin[1], false)));
        calls.put("embed (768×128)", new Call(ROWS * WIDTH,
                () -> k.embed(targets, 0, wte, 1f, positions, x, ROWS, LENGTH, WIDTH)));
        calls.put("embedBackward (768×128)", new Call(ROWS * WIDTH,
                () -> k.embedBackward(targets, 0, dx, 1f, dWte, dPositions, ROWS, LENGTH, WIDTH)));
        calls.put("toBf16 (768×512)", new Call(ROWS * MLP, () -> k.toBf16(hidden, bf16, ROWS * MLP)));
        return calls;
    }

    private static ByteBuffer uniform(Random random, int n) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder());
        for (int i = 0; i < n; i++) {
            buffer.putFloat(4 * i, random.nextFloat() * 4 - 2);
        }
        return buffer;
    }

    private static void copy(ByteBuffer from, ByteBuffer to) {
        to.put(0, from, 0, from.capacity());
    }
}
