package io.ringformer.zoo.attention;

import static io.ringformer.zoo.GradientCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.GradientCheck;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.family.MapSettings;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The attention types against loop-by-loop references written from their papers, finite differences, causality,
 * and the zero influence of a key outside a window. Non-square sizes: B 2, H 3, T 9, dh 4.
 */
class AttentionTypesTest {

    static final int B = 2, H = 3, T = 9, DH = 4;
    static final double[][] KEEP = {{1, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 0, 0, 0}};

    static Attention window(int window, int global) {
        return AttentionTypes.configured(new MapSettings(Map.of(AttentionTypes.KEY, "sliding_window", "attention.window",
                window, "attention.global_tokens", global)));
    }

    static Attention sparse(String pattern, int stride, int block, int summary) {
        return AttentionTypes.configured(new MapSettings(Map.of(AttentionTypes.KEY, "block_sparse", "attention.pattern",
                pattern, "attention.stride", stride, "attention.block_size", block, "attention.summary", summary)));
    }

    static Attention simplicial(int window1, int window2) {
        return AttentionTypes.configured(new MapSettings(Map.of(AttentionTypes.KEY, "simplicial", "attention.window",
                window1, "attention.window2", window2)));
    }

    static Attention memoryEfficient(int chunk) {
        return AttentionTypes.configured(new MapSettings(Map.of(AttentionTypes.KEY, "memory_efficient",
                "attention.chunk", chunk)));
    }

    static Attention linear() {
        return AttentionTypes.configured(new MapSettings(Map.of(AttentionTypes.KEY, "linear")));
    }

    /** A graph around one attention: q, k, v as variables, the bias a layer would fold. */
    record Graph(SameDiff sd, ScaledDotProductAttention.Output out) {
        static Graph of(Attention attention, INDArray q, INDArray k, INDArray v, boolean causal, boolean padded) {
            SameDiff sd = SameDiff.create();
            DataType type = q.dataType();
            SDVariable keep = padded ? sd.constant("keep", Nd4j.createFromArray(KEEP).castTo(type)) : null;
            SDVariable bias = causal ? sd.constant("causal", Nd4j.createFromArray(AttentionMasks.causal(T, T))
                    .castTo(type)) : null;
            if (keep != null) {
                SDVariable pad = AttentionMasks.padding(sd, keep, T);
                bias = bias == null ? pad : bias.add(pad);
            }
            // the layer input and the attention's own parameters, for the types that have projections of their own
            SDVariable x = sd.var("x", uniform(12, type, B * T, H * DH));
            Map<String, SDVariable> own = new HashMap<>();
            Function<String, SDVariable> parameters = suffix -> own.computeIfAbsent(suffix, name -> sd.var(name,
                    uniform(13 + name.length(), type, name.startsWith("w_") ? H * DH : 1, 2L * H * DH)
                            .reshape(name.startsWith("w_") ? new long[] {H * DH, 2L * H * DH}
                                    : new long[] {2L * H * DH})));
            AttentionInputs in = new AttentionInputs(sd.var("q", q), sd.var("k", k), sd.var("v", v), bias, keep,
                    causal, T, T, H, DH, UnaryOperator.identity(), MixedPrecision.FP32, x, parameters);
            return new Graph(sd, attention.attend(sd, "layer", in));
        }
    }

    /** Whether query t may see key s under causality and padding (of batch row b). */
    static boolean allowed(int b, int t, int s, boolean causal, boolean padded) {
        return (!causal || s <= t) && (!padded || KEEP[b][s] == 1);
    }

    // ---------------------------------------------------------------------------------------------------------
    // The registry

    @Test
    void theRegistryHoldsTheBuiltInTypesWithTheirKeysAndNamesThemWhenAskedForAnotherOne() {
        assertTrue(AttentionTypes.names().containsAll(List.of("full", "sliding_window", "linear")),
                AttentionTypes.names()::toString);
        List<String> keys = AttentionTypes.keys().stream().map(k -> k.name()).toList();
        assertTrue(keys.containsAll(List.of("attention.type", "attention.window", "attention.global_tokens")),
                keys::toString);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AttentionTypes.named("flash"));
        assertTrue(e.getMessage().contains("'flash'") && e.getMessage().contains("sliding_window"), e.getMessage());
        assertEquals(null, AttentionTypes.full().fusedGap());
        assertEquals(null, linear().fusedGap());
        assertEquals(null, memoryEfficient(8).fusedGap());
        assertEquals("attention.type sliding_window", window(3, 0).fusedGap());
    }

    @Test
    void linearAttentionRefusesAlibiWithAWayOut() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new MultiHeadAttention.Spec(12, 3, true, PositionType.ALIBI, 0, linear()));
        assertTrue(e.getMessage().contains("ALiBi") && e.getMessage().contains("rope"), e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------
    // sliding_window

    /** A pattern written out from its paper: whether query t sees key s (before causality and padding). */
    interface Reference {
        boolean sees(int t, int s, boolean causal);
    }

    @Test
    void eachPatternEqualsSoftmaxOverItsKeysInALoopReference() {
        // Mistral / Longformer: a band of 3 (and one global token); Child et al.: strided l = 3, fixed l = 4, c = 1
        checkPattern(window(3, 0), (t, s, causal) -> causal ? t - s >= 0 && t - s < 3 : Math.abs(t - s) < 3);
        checkPattern(window(3, 1), (t, s, causal) -> (causal ? t - s >= 0 && t - s < 3 : Math.abs(t - s) < 3)
                || t == 0 || s == 0);
        checkPattern(sparse("strided", 3, 8, 1), (t, s, causal) -> causal
                ? t >= s && (t - s < 3 || (t - s) % 3 == 0) : Math.abs(t - s) < 3 || Math.abs(t - s) % 3 == 0);
        checkPattern(sparse("fixed", 8, 4, 1), (t, s, causal) -> t / 4 == s / 4 || s % 4 == 3);
    }

    private static void checkPattern(Attention attention, Reference reference) {
        for (boolean causal : new boolean[] {true, false}) {
            INDArray q = uniform(1, DataType.FLOAT, B, H, T, DH);
            INDArray k = uniform(2, DataType.FLOAT, B, H, T, DH);
            INDArray v = uniform(3, DataType.FLOAT, B, H, T, DH);
            Graph g = Graph.of(attention, q, k, v, causal, !causal);
            double[][][][] bias = new double[B][H][T][T];
            boolean[][] seesSomething = new boolean[B][T];
            int blocked = 0;
            for (int b = 0; b < B; b++) {
                for (int t = 0; t < T; t++) {
                    for (int s = 0; s < T; s++) {
                        boolean visible = reference.sees(t, s, causal) && allowed(b, t, s, causal, !causal);
                        blocked += visible ? 0 : 1;
                        seesSomething[b][t] |= visible;
                        for (int h = 0; h < H; h++) {
                            bias[b][h][t][s] = visible ? 0 : Double.NEGATIVE_INFINITY;
                        }
                    }
                }
            }
            assertTrue(blocked > 0, "the pattern blocks nothing here");
            AttentionReference.Attended expected = AttentionReference.attention(AttentionReference.array4(q),
                    AttentionReference.array4(k), AttentionReference.array4(v), bias);
            double[][][][] values = AttentionReference.array4(g.out().values().eval());
            double[][][][] weights = AttentionReference.array4(g.out().weights().eval());
            String what = attention.name() + (causal ? ", causal" : ", bidirectional");
            for (int b = 0; b < B; b++) {
                for (int t = 0; t < T; t++) {
                    if (!seesSomething[b][t]) {
                        continue;     // a padding query whose band holds only padding: no defined answer
                    }
                    for (int h = 0; h < H; h++) {
                        for (int j = 0; j < DH; j++) {
                            assertEquals(expected.values()[b][h][t][j], values[b][h][t][j], 1e-5, what);
                        }
                        for (int s = 0; s < T; s++) {
                            assertEquals(expected.weights()[b][h][t][s], weights[b][h][t][s], 1e-5, what);
                        }
                    }
                }
            }
        }
    }

    @Test
    void aKeyOutsideThePatternHasExactlyNoInfluenceOnTheOutputNorAGradient() {
        checkNoInfluence(window(3, 0), (t, s, causal) -> s <= t && t - s < 3);
        checkNoInfluence(sparse("strided", 3, 8, 1), (t, s, causal) -> s <= t && ((t - s) < 3 || (t - s) % 3 == 0));
    }

    private static void checkNoInfluence(Attention attention, Reference reference) {
        int t = 7;
        int outside = 2;                                   // outside query 7's keys in both patterns
        assertTrue(!reference.sees(t, outside, true));
        INDArray q = uniform(1, DataType.FLOAT, B, H, T, DH);
        INDArray k = uniform(2, DataType.FLOAT, B, H, T, DH);
        INDArray v = uniform(3, DataType.FLOAT, B, H, T, DH);
        INDArray before = Graph.of(attention, q, k, v, true, false).out().values().eval();
        INDArray k2 = k.dup();
        INDArray v2 = v.dup();
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                for (int j = 0; j < DH; j++) {
                    k2.putScalar(new long[] {b, h, outside, j}, 50.0);
                    v2.putScalar(new long[] {b, h, outside, j}, -80.0);
                }
            }
        }
        INDArray after = Graph.of(attention, q, k2, v2, true, false).out().values().eval();
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                for (int j = 0; j < DH; j++) {
                    assertEquals(before.getFloat(b, h, t, j), after.getFloat(b, h, t, j), 0.0, "output of query 7");
                }
            }
        }
        Map<String, INDArray> gradients = rowGradients(attention, q, k, v, t);
        for (String name : List.of("k", "v")) {
            for (int b = 0; b < B; b++) {
                for (int h = 0; h < H; h++) {
                    for (int s = 0; s < T; s++) {
                        double norm = 0;
                        for (int j = 0; j < DH; j++) {
                            norm += Math.abs(gradients.get(name).getDouble(b, h, s, j));
                        }
                        assertTrue(reference.sees(t, s, true) ? norm > 0 : norm == 0,
                                attention.name() + ": " + name + " at key " + s + ": |∂| = " + norm);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // linear

    @Test
    void linearAttentionEqualsItsDefinitionInALoopReference() {
        for (boolean causal : new boolean[] {true, false}) {
            INDArray q = uniform(4, DataType.FLOAT, B, H, T, DH);
            INDArray k = uniform(5, DataType.FLOAT, B, H, T, DH);
            INDArray v = uniform(6, DataType.FLOAT, B, H, T, DH);
            Graph g = Graph.of(linear(), q, k, v, causal, true);
            double[][][][] qa = AttentionReference.array4(q), ka = AttentionReference.array4(k);
            double[][][][] va = AttentionReference.array4(v);
            double[][][][] values = new double[B][H][T][DH];
            double[][][][] weights = new double[B][H][T][T];
            for (int b = 0; b < B; b++) {
                for (int h = 0; h < H; h++) {
                    for (int t = 0; t < T; t++) {
                        double total = 0;
                        double[] kernel = new double[T];
                        for (int s = 0; s < T; s++) {
                            if (allowed(b, t, s, causal, true)) {
                                for (int j = 0; j < DH; j++) {
                                    kernel[s] += phi(qa[b][h][t][j]) * phi(ka[b][h][s][j]);
                                }
                                total += kernel[s];
                            }
                        }
                        for (int s = 0; s < T; s++) {
                            weights[b][h][t][s] = kernel[s] / (total + LinearAttention.EPS);
                            for (int j = 0; j < DH; j++) {
                                values[b][h][t][j] += weights[b][h][t][s] * va[b][h][s][j];
                            }
                        }
                    }
                }
            }
            assertTrue(AttentionReference.maxDifference(values, g.out().values().eval()) < 1e-5, "values");
            assertTrue(AttentionReference.maxDifference(weights, g.out().weights().eval()) < 1e-5, "weights");
        }
    }

    static double phi(double x) {
        return x > 0 ? x + 1 : Math.exp(x);
    }

    @Test
    void causalLinearAndMemoryEfficientAttentionLetNoLaterKeyReachAnEarlierQuery() {
        for (Attention attention : List.of(linear(), memoryEfficient(4))) {
            checkCausal(attention);
        }
    }

    private static void checkCausal(Attention attention) {
        INDArray q = uniform(4, DataType.FLOAT, B, H, T, DH);
        INDArray k = uniform(5, DataType.FLOAT, B, H, T, DH);
        INDArray v = uniform(6, DataType.FLOAT, B, H, T, DH);
        int t = 4;
        Map<String, INDArray> gradients = rowGradients(attention, q, k, v, t);
        for (String name : List.of("k", "v")) {
            for (int s = 0; s < T; s++) {
                double norm = 0;
                for (int b = 0; b < B; b++) {
                    for (int h = 0; h < H; h++) {
                        for (int j = 0; j < DH; j++) {
                            norm += Math.abs(gradients.get(name).getDouble(b, h, s, j));
                        }
                    }
                }
                assertTrue(s <= t ? norm > 0 : norm == 0,
                        attention.name() + ": " + name + " at key " + s + ": |∂| = " + norm);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // memory_efficient

    @Test
    void memoryEfficientAttentionIsSoftmaxAttentionInALoopReferenceForAnyChunk() {
        // T 9 in chunks of 1, 4 (4 + 4 + 1) and 16 (one chunk): the online softmax changes nothing but the order
        for (int chunk : new int[] {1, 4, 16}) {
            for (boolean causal : new boolean[] {true, false}) {
                INDArray q = uniform(21, DataType.FLOAT, B, H, T, DH).muli(4);   // scores far apart: the max matters
                INDArray k = uniform(22, DataType.FLOAT, B, H, T, DH);
                INDArray v = uniform(23, DataType.FLOAT, B, H, T, DH);
                Graph g = Graph.of(memoryEfficient(chunk), q, k, v, causal, true);
                double[][][][] bias = new double[B][H][T][T];
                for (int b = 0; b < B; b++) {
                    for (int h = 0; h < H; h++) {
                        for (int t = 0; t < T; t++) {
                            for (int s = 0; s < T; s++) {
                                bias[b][h][t][s] = allowed(b, t, s, causal, true) ? 0 : Double.NEGATIVE_INFINITY;
                            }
                        }
                    }
                }
                AttentionReference.Attended expected = AttentionReference.attention(AttentionReference.array4(q),
                        AttentionReference.array4(k), AttentionReference.array4(v), bias);
                String what = "chunk " + chunk + (causal ? ", causal" : ", bidirectional");
                assertTrue(AttentionReference.maxDifference(expected.values(), g.out().values().eval()) < 1e-5,
                        what + ": values");
                assertTrue(AttentionReference.maxDifference(expected.weights(), g.out().weights().eval()) < 1e-5,
                        what + ": weights");
            }
        }
    }

    @Test
    void memoryEfficientAttentionHasFullAttentionsGradients() {
        for (boolean causal : new boolean[] {true, false}) {
            Map<String, INDArray> full = projectedGradients(AttentionTypes.full(), causal);
            Map<String, INDArray> chunked = projectedGradients(memoryEfficient(4), causal);
            for (String name : List.of("q", "k", "v")) {
                double difference = full.get(name).sub(chunked.get(name)).norm2Number().doubleValue();
                double norm = full.get(name).norm2Number().doubleValue();
                assertTrue(norm > 0 && difference <= 1e-5 * norm, name + ": ‖Δ‖/‖full‖ = " + difference / norm);
            }
        }
    }

    /** ∂(Σ output·R)/∂q, k, v in fp32, padded. */
    private static Map<String, INDArray> projectedGradients(Attention attention, boolean causal) {
        Graph g = Graph.of(attention, uniform(24, DataType.FLOAT, B, H, T, DH).muli(3),
                uniform(25, DataType.FLOAT, B, H, T, DH), uniform(26, DataType.FLOAT, B, H, T, DH), causal, true);
        g.out().values().mul(g.sd().constant(uniform(27, DataType.FLOAT, B, H, T, DH))).sum("projected");
        g.sd().setLossVariables("projected");
        return g.sd().calculateGradients(Map.of(), "q", "k", "v");
    }

    // ---------------------------------------------------------------------------------------------------------
    // simplicial

    @Test
    void simplicialAttentionEqualsTheTrilinearFormulaInALoopReference() {
        int w1 = 3, w2 = 2, d = H * DH;
        INDArray q = uniform(1, DataType.FLOAT, B, H, T, DH);
        INDArray k = uniform(2, DataType.FLOAT, B, H, T, DH);
        INDArray v = uniform(3, DataType.FLOAT, B, H, T, DH);
        Graph g = Graph.of(simplicial(w1, w2), q, k, v, true, false);
        INDArray values = g.out().values().eval();
        INDArray weights = g.out().weights().eval();
        double[][] x = g.sd().getArrForVarName("x").toDoubleMatrix();
        double[][] w = g.sd().getArrForVarName("w_kv2").toDoubleMatrix();
        double[] bias = g.sd().getArrForVarName("b_kv2").toDoubleVector();
        double[][] kv2 = AttentionReference.linear(x, w, bias);                              // [B·T, 2d]
        double[][][][] qa = AttentionReference.array4(q), ka = AttentionReference.array4(k);
        double[][][][] va = AttentionReference.array4(v);
        double maxValue = 0, maxWeight = 0;
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                for (int i = 0; i < T; i++) {
                    double[][] logits = new double[T][T];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = Math.max(0, i - w1 + 1); j <= i; j++) {
                        for (int l = Math.max(0, i - w2 + 1); l <= i; l++) {
                            for (int c = 0; c < DH; c++) {
                                logits[j][l] += qa[b][h][i][c] * ka[b][h][j][c] * kv2[b * T + l][h * DH + c];
                            }
                            logits[j][l] /= Math.sqrt(DH);
                            max = Math.max(max, logits[j][l]);
                        }
                    }
                    double sum = 0;
                    double[][] p = new double[T][T];
                    for (int j = Math.max(0, i - w1 + 1); j <= i; j++) {
                        for (int l = Math.max(0, i - w2 + 1); l <= i; l++) {
                            p[j][l] = Math.exp(logits[j][l] - max);
                            sum += p[j][l];
                        }
                    }
                    double[] out = new double[DH];
                    double[] perKey = new double[T];
                    for (int j = 0; j < T; j++) {
                        for (int l = 0; l < T; l++) {
                            p[j][l] /= sum;
                            perKey[j] += p[j][l];
                            for (int c = 0; c < DH; c++) {
                                out[c] += p[j][l] * va[b][h][j][c] * kv2[b * T + l][d + h * DH + c];
                            }
                        }
                    }
                    for (int c = 0; c < DH; c++) {
                        maxValue = Math.max(maxValue, Math.abs(out[c] - values.getDouble(b, h, i, c)));
                    }
                    for (int j = 0; j < T; j++) {
                        maxWeight = Math.max(maxWeight, Math.abs(perKey[j] - weights.getDouble(b, h, i, j)));
                    }
                }
            }
        }
        assertTrue(maxValue < 1e-5, "values differ by " + maxValue);
        assertTrue(maxWeight < 1e-5, "weights differ by " + maxWeight);
    }

    @Test
    void simplicialAttentionIsCausalInEveryInput() {
        int t = 4;
        Graph g = Graph.of(simplicial(3, 2), uniform(1, DataType.FLOAT, B, H, T, DH),
                uniform(2, DataType.FLOAT, B, H, T, DH), uniform(3, DataType.FLOAT, B, H, T, DH), true, false);
        INDArray pick = Nd4j.zeros(DataType.FLOAT, B, H, T, DH);
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                for (int j = 0; j < DH; j++) {
                    pick.putScalar(new long[] {b, h, t, j}, 1.0 + j);
                }
            }
        }
        g.out().values().mul(g.sd().constant(pick)).sum("row_loss");
        g.sd().setLossVariables("row_loss");
        Map<String, INDArray> gradients = g.sd().calculateGradients(Map.of(), "k", "v", "x");
        for (int s = 0; s < T; s++) {
            double k = 0, v = 0, x = 0;
            for (int b = 0; b < B; b++) {
                for (int h = 0; h < H; h++) {
                    for (int j = 0; j < DH; j++) {
                        k += Math.abs(gradients.get("k").getDouble(b, h, s, j));
                        v += Math.abs(gradients.get("v").getDouble(b, h, s, j));
                    }
                }
                for (int c = 0; c < H * DH; c++) {
                    x += Math.abs(gradients.get("x").getDouble(b * T + s, c));
                }
            }
            boolean inFirst = s <= t && t - s < 3;
            boolean inSecond = s <= t && t - s < 2;
            assertTrue(inFirst ? k > 0 && v > 0 : k == 0 && v == 0, "k, v at " + s + ": " + k + ", " + v);
            assertTrue(inSecond ? x > 0 : x == 0, "x at " + s + ": " + x);
        }
    }

    @Test
    void simplicialAttentionRefusesBidirectionalModelsAndRotaryPositions() {
        Attention simplicial = simplicial(3, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new MultiHeadAttention.Spec(12, 3, false, PositionType.LEARNED, 0, simplicial));
        assertTrue(e.getMessage().contains("causal"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new MultiHeadAttention.Spec(12, 3, true, PositionType.ROPE, 0, simplicial));
        assertTrue(e.getMessage().contains("rope") && e.getMessage().contains("learned"), e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Finite differences, in double precision

    @Test
    void gradientsMatchFiniteDifferences() {
        List<Attention> types = List.of(window(3, 1), sparse("strided", 3, 8, 1), sparse("fixed", 8, 4, 2), linear(),
                simplicial(3, 2), memoryEfficient(4));
        for (Attention attention : types) {
            for (boolean causal : attention.name().equals("simplicial") ? new boolean[] {true}
                    : new boolean[] {true, false}) {
                Graph g = Graph.of(attention, uniform(7, DataType.DOUBLE, B, H, T, DH),
                        uniform(8, DataType.DOUBLE, B, H, T, DH), uniform(9, DataType.DOUBLE, B, H, T, DH), causal,
                        true);
                String loss = GradientCheck.projectToScalar(g.sd(), g.out().values(), 10, B, H, T, DH);
                String[] names = attention.name().equals("simplicial")
                        ? new String[] {"q", "k", "v", "x", "w_kv2", "b_kv2"} : new String[] {"q", "k", "v"};
                GradientCheck.check(g.sd(), loss, new HashMap<>(), 16, names);
            }
        }
    }

    /** The gradients of Σ output[:, :, t, :] · R with respect to q, k and v. */
    private static Map<String, INDArray> rowGradients(Attention attention, INDArray q, INDArray k, INDArray v, int t) {
        Graph g = Graph.of(attention, q, k, v, true, false);
        INDArray pick = Nd4j.zeros(DataType.FLOAT, B, H, T, DH);
        INDArray random = uniform(11, DataType.FLOAT, B, H, T, DH);
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                for (int j = 0; j < DH; j++) {
                    pick.putScalar(new long[] {b, h, t, j}, random.getFloat(b, h, t, j));
                }
            }
        }
        g.out().values().mul(g.sd().constant(pick)).sum("row_loss");
        g.sd().setLossVariables("row_loss");
        return g.sd().calculateGradients(Map.of(), "q", "k", "v");
    }
}
