package io.ringformer.zoo.gpt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.attention.AttentionTypes;
import io.ringformer.zoo.attention.MemoryEfficientAttention;
import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.fused.Kernels;
import io.ringformer.zoo.fused.ScalarKernels;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The fused step against the SameDiff graph it replaces: same parameters and batch, same loss and gradients.
 *
 * <p>"Equal" is normwise per parameter tensor: ‖fused − graph‖₂ ≤ 1e-5·‖graph‖₂. Elementwise relative error is
 * meaningless for entries that are near zero (a bias gradient summing terms of both signs); the normwise bound
 * is what fp32 summation in a different order allows, and a wrong term anywhere breaks it by orders of magnitude.
 */
class FusedGptTest {

    private static final double TOLERANCE = 1e-5;

    /** A model and batch, the graph's loss and gradients, and the flat layout the fused model reads. */
    private record Case(Gpt.Config config, Gpt gpt, int[] tokens, int[] targets, int sequences,
                        Map<String, Integer> offsets, float[] flat, double loss, Map<String, INDArray> gradients) {

        static Case of(Gpt.Config config, int sequences, long seed) {
            Gpt gpt = Gpt.build(config, DataType.FLOAT, seed, false);
            int t = config.blockSize();
            int[][] tokens = GptTest.randomTokens(seed + 1, sequences, t, config.vocabSize());
            int[][] targets = GptTest.randomTokens(seed + 2, sequences, t, config.vocabSize());
            targets[sequences - 1][t - 1] = -1; // an ignored target
            SameDiff sd = gpt.graph();
            Map<String, INDArray> feed = GptTest.batch(tokens, targets);
            double loss = sd.output(feed, Gpt.LOSS).get(Gpt.LOSS).getDouble(0);
            Map<String, INDArray> gradients = quietly(() -> sd.calculateGradients(feed, gpt.parameterNames()));
            Map<String, Integer> offsets = new LinkedHashMap<>();
            int size = 0;
            for (String name : gpt.parameterNames()) {
                offsets.put(name, size);
                size += (int) sd.getArrForVarName(name).length();
            }
            float[] flat = new float[size];
            for (String name : gpt.parameterNames()) {
                float[] values = sd.getArrForVarName(name).dup().data().asFloat();
                System.arraycopy(values, 0, flat, offsets.get(name), values.length);
            }
            return new Case(config, gpt, flatten(tokens), flatten(targets), sequences, offsets, flat, loss,
                    gradients);
        }

        FusedGpt fused(boolean bf16, Kernels kernels) {
            return fused(config, bf16, kernels);
        }

        /** The fused model of another config with the same parameters (another attention type, say). */
        FusedGpt fused(Gpt.Config other, boolean bf16, Kernels kernels) {
            FusedGpt model = new FusedGpt(other, offsets, flat.length, sequences, bf16, kernels);
            model.setParameters(flat);
            return model;
        }
    }

    @ParameterizedTest
    @EnumSource(PositionType.class)
    void lossAndEveryGradientEqualTheGraphsForEachPositionType(PositionType positions) {
        // Non-square everywhere: V 11, T 7, d 12, 3 heads of 4, F 48, 3 sequences.
        check(Case.of(new Gpt.Config(11, 7, 2, 3, 12, 0, positions), 3, 5), Kernels.best());
    }

    @Test
    void anUntiedHeadToo() {
        // lm_head [V, d] apart from wte: each gets its own gradient (wte's from the embedding alone)
        check(Case.of(new Gpt.Config(11, 7, 2, 3, 12, 0, PositionType.LEARNED, false), 3, 12), Kernels.best());
    }

    @Test
    void theScalarKernelsGiveTheSameStep() {
        check(Case.of(new Gpt.Config(11, 7, 2, 3, 12, 0, PositionType.ALIBI), 3, 6), new ScalarKernels());
    }

    @Test
    void atNanoGptsShapesToo() {
        // The benchmark's widths (d 128, 4 heads, T 64, V 65), where oneDNN picks its blocked kernels.
        check(Case.of(new Gpt.Config(65, 64, 2, 4, 128, 0, PositionType.LEARNED), 4, 7), Kernels.best());
    }

    /** The config with memory-efficient attention in chunks of {@code chunk} keys. */
    static Gpt.Config chunked(Gpt.Config c, int chunk) {
        return new Gpt.Config(c.vocabSize(), c.blockSize(), c.layers(), c.heads(), c.width(), c.dropout(),
                c.positions(), c.tiedHead(), new MemoryEfficientAttention.Chunked(chunk), c.init());
    }

    @ParameterizedTest
    @EnumSource(PositionType.class)
    void memoryEfficientAttentionEqualsFullInLossAndEveryGradient(PositionType positions) {
        // T 7 in chunks of 3 (3 + 3 + 1), against the graph of full attention
        Case full = Case.of(new Gpt.Config(11, 7, 2, 3, 12, 0, positions), 3, 5);
        check(full, chunked(full.config(), 3), Kernels.best());
    }

    @ParameterizedTest
    @EnumSource(value = PositionType.class, names = {"LEARNED", "ROPE"})
    void linearAttentionEqualsItsGraphInLossAndEveryGradient(PositionType positions) {
        Gpt.Config config = new Gpt.Config(11, 7, 2, 3, 12, 0, positions, true, AttentionTypes.named("linear")
                .configure(null));
        check(Case.of(config, 3, 14), Kernels.best());
    }

    @Test
    void memoryEfficientAttentionEqualsItsOwnGraphWithBothKernelSets() {
        Case c = Case.of(chunked(new Gpt.Config(11, 7, 2, 3, 12, 0, PositionType.ALIBI), 2), 3, 13);
        check(c, Kernels.best());
        check(c, new ScalarKernels());
    }

    @Test
    void memoryEfficientAttentionAtNanoGptsShapes() {
        // T 64 in chunks of 16: oneDNN's kernels on the chunk views
        Case full = Case.of(new Gpt.Config(65, 64, 2, 4, 128, 0, PositionType.LEARNED), 4, 7);
        check(full, chunked(full.config(), 16), Kernels.best());
    }

    private static void check(Case c, Kernels kernels) {
        check(c, c.config(), kernels);
    }

    /** The fused model of {@code fusedConfig}, on c's parameters and batch, against c's graph. */
    private static void check(Case c, Gpt.Config fusedConfig, Kernels kernels) {
        FusedGpt fused = c.fused(fusedConfig, false, kernels);
        float scale = 3f; // a loss scale times a micro-batch weight: gradients come out multiplied by it
        double loss = fused.trainStep(c.tokens(), c.targets(), 0, c.sequences(), scale);
        assertEquals(c.loss(), loss, TOLERANCE * c.loss(), "loss");
        assertEquals(c.loss(), fused.loss(c.tokens(), c.targets(), 0, c.sequences()), TOLERANCE * c.loss(),
                "evaluation loss");
        float[] gradient = new float[c.flat().length];
        fused.addGradients(gradient);
        for (String name : c.gpt().parameterNames()) {
            float[] expected = c.gradients().get(name).dup().data().asFloat();
            double difference = 0;
            double norm = 0;
            for (int i = 0; i < expected.length; i++) {
                double e = scale * expected[i];
                double actual = gradient[c.offsets().get(name) + i];
                difference += (actual - e) * (actual - e);
                norm += e * e;
            }
            double relative = Math.sqrt(difference / norm);
            assertTrue(norm > 0, name + " has a zero gradient in the graph; the case tests nothing");
            assertTrue(relative <= TOLERANCE, name + ": ‖fused − graph‖/‖graph‖ = " + relative);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3, -1})
    void attentionMapsEqualTheGraphs(int chunk) {
        // chunk 0: full attention's saved probabilities; 3: memory-efficient's, recomputed chunk by chunk;
        // −1: linear attention's mixture weights
        Case c = chunk < 0
                ? Case.of(new Gpt.Config(11, 7, 2, 3, 12, 0, PositionType.LEARNED, true,
                        AttentionTypes.named("linear").configure(null)), 3, 11)
                : Case.of(new Gpt.Config(11, 7, 2, 3, 12, 0, PositionType.ALIBI), 3, 11);
        FusedGpt fused = c.fused(chunk <= 0 ? c.config() : chunked(c.config(), chunk), false, Kernels.best());
        fused.loss(c.tokens(), c.targets(), 0, c.sequences());
        int[][] tokens = new int[3][];
        int[][] targets = new int[3][];
        for (int s = 0; s < 3; s++) {
            tokens[s] = java.util.Arrays.copyOfRange(c.tokens(), 7 * s, 7 * s + 7);
            targets[s] = java.util.Arrays.copyOfRange(c.targets(), 7 * s, 7 * s + 7);
        }
        for (int layer = 0; layer < 2; layer++) {
            String name = c.gpt().attentionMap(layer);
            float[] expected = c.gpt().graph().output(GptTest.batch(tokens, targets), name).get(name).dup().data()
                    .asFloat();                                                               // [B, H, T, T]
            float[] actual = fused.attentionMap(layer, 3);
            assertEquals(expected.length, actual.length);
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 1e-6, "layer " + layer + " weight " + i);
            }
        }
    }

    @Test
    void aSliceOfTheBatchIsThatBatchAlone() {
        Case c = Case.of(new Gpt.Config(11, 7, 1, 2, 8, 0, PositionType.ROPE), 3, 8);
        FusedGpt fused = c.fused(false, Kernels.best());
        double lastTwo = fused.loss(c.tokens(), c.targets(), 1, 2);
        int t = 7;
        int[] tokens = java.util.Arrays.copyOfRange(c.tokens(), t, 3 * t);
        int[] targets = java.util.Arrays.copyOfRange(c.targets(), t, 3 * t);
        assertEquals(lastTwo, fused.loss(tokens, targets, 0, 2), 1e-6);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 16})
    void bf16StaysCloseToFp32(int chunk) {
        // bf16 keeps 8 bits of significand (relative rounding ≤ 2⁻⁹ ≈ 0.2%) in every GEMM operand; measured here the
        // loss moves by ~1e-5 relative and each parameter's gradient by 0.2–0.5% normwise, without bias.
        // chunk 0: full attention; 16: memory-efficient, whose unnormalised chunk probabilities are rounded instead.
        Case c = Case.of(new Gpt.Config(65, 64, 2, 4, 128, 0, PositionType.LEARNED), 4, 9);
        Gpt.Config config = chunk == 0 ? c.config() : chunked(c.config(), chunk);
        FusedGpt fp32 = c.fused(config, false, Kernels.best());
        FusedGpt bf16 = c.fused(config, true, Kernels.best());
        double loss32 = fp32.trainStep(c.tokens(), c.targets(), 0, c.sequences(), 1f);
        double loss16 = bf16.trainStep(c.tokens(), c.targets(), 0, c.sequences(), 1f);
        assertEquals(loss32, loss16, 1e-2 * loss32);
        float[] g32 = new float[c.flat().length];
        float[] g16 = new float[c.flat().length];
        fp32.addGradients(g32);
        bf16.addGradients(g16);
        double difference = 0;
        double norm = 0;
        for (int i = 0; i < g32.length; i++) {
            difference += (g16[i] - g32[i]) * (double) (g16[i] - g32[i]);
            norm += g32[i] * (double) g32[i];
        }
        double relative = Math.sqrt(difference / norm);
        assertTrue(relative < 0.02, "bf16 gradient differs from fp32 by " + relative);
        assertTrue(relative > 0, "bf16 gave bit-identical gradients: the bf16 path did not run");
    }

    /**
     * In a JVM of its own, as a worker runs one model: this test JVM has run the kernels on dozens of odd shapes,
     * which leaves the JIT with profiles (and deoptimisations) that a training process never has.
     */
    @ParameterizedTest
    @CsvSource({"0, fp32", "8, fp32", "0, bf16"})
    void aStepAllocatesNothingOnceWarm(int chunk, String precision) throws Exception {
        Process probe = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                FusedGptTest.class.getName(), Integer.toString(chunk), precision).redirectErrorStream(true).start();
        String output = new String(probe.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, probe.waitFor(), output);
        String last = output.strip().lines().reduce((a, b) -> b).orElse("");
        assertEquals("bytes allocated by 50 warm steps: 0", last, output);
    }

    /**
     * The probe of {@link #aStepAllocatesNothingOnceWarm}: the fewest bytes 50 warm steps allocate.
     *
     * @param args the memory-efficient attention's chunk, or 0 for full attention; optionally fp32 (the default) or
     *             bf16; optionally then a block size T, which makes the batch one sequence of T (a long-context probe
     *             by hand)
     */
    public static void main(String[] args) {
        boolean bf16 = args.length > 1 && args[1].equals("bf16");
        int length = args.length > 2 ? Integer.parseInt(args[2]) : 32;
        Case c = Case.of(new Gpt.Config(65, length, 2, 4, 64, 0, PositionType.ROPE), args.length > 2 ? 1 : 4, 10);
        int chunk = Integer.parseInt(args[0]);
        FusedGpt fused = c.fused(chunk == 0 ? c.config() : chunked(c.config(), chunk), bf16, Kernels.best());
        float[] gradient = new float[c.flat().length];
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        for (int i = 0; i < 300; i++) { // until the JIT has compiled the kernels (and escape-analysed the vectors)
            step(fused, c, gradient);
        }
        long fewest = Long.MAX_VALUE;  // a window may still see a (re)compilation: take the best, for up to 30 s
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (fewest > 0 && System.nanoTime() < deadline) {
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 50; i++) {
                step(fused, c, gradient);
            }
            fewest = Math.min(fewest, threads.getCurrentThreadAllocatedBytes() - before);
        }
        System.out.println("bytes allocated by 50 warm steps: " + fewest);
    }

    private static void step(FusedGpt fused, Case c, float[] gradient) {
        fused.setParameters(c.flat());
        fused.trainStep(c.tokens(), c.targets(), 0, c.sequences(), 1f);
        fused.addGradients(gradient);
    }

    @Test
    void aModelWithDropoutIsRefused() {
        Gpt.Config config = new Gpt.Config(11, 7, 1, 2, 8, 0.1, PositionType.LEARNED);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new FusedGpt(config, new HashMap<>(), 1, 1, false, Kernels.best()));
        assertTrue(e.getMessage().contains("dropout"), e.getMessage());
    }

    private static int[] flatten(int[][] rows) {
        int[] flat = new int[rows.length * rows[0].length];
        for (int r = 0; r < rows.length; r++) {
            System.arraycopy(rows[r], 0, flat, r * rows[r].length, rows[r].length);
        }
        return flat;
    }

    /** M2.1 prints a line per differentiated op while it builds the backward graph. */
    private static <T> T quietly(java.util.function.Supplier<T> work) {
        java.io.PrintStream out = System.out;
        System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        try {
            return work.get();
        } finally {
            System.setOut(out);
        }
    }
}
