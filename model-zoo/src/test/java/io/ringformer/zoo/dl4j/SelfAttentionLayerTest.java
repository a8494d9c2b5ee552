package io.ringformer.zoo.dl4j;

import static io.ringformer.zoo.GradientCheck.allFinite;
import static io.ringformer.zoo.GradientCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.attention.PositionType;
import java.io.File;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

/**
 * The DL4J drop-in: training in a MultiLayerNetwork, save/restore, causality, padding, gradients, and use in a
 * ComputationGraph. Sizes are small and unequal (nIn 3, width 8, T 6) so a swapped axis cannot pass by accident.
 */
class SelfAttentionLayerTest {

    static final int N_IN = 3;
    static final int WIDTH = 8;
    static final int HEADS = 2;
    static final int T = 6;

    static SelfAttentionLayer attention(long nIn, boolean causal, PositionType positions) {
        return new SelfAttentionLayer.Builder().nIn(nIn).nOut(WIDTH).heads(HEADS).causal(causal)
                .positions(positions).sequenceLength(T).build();
    }

    /** attention layers (in order) → per-step softmax over {@code classes}. */
    static MultiLayerNetwork network(DataType type, IUpdater updater, long seed, int nIn, int classes, int length,
                                     SelfAttentionLayer... layers) {
        NeuralNetConfiguration.ListBuilder list = new NeuralNetConfiguration.Builder()
                .seed(seed).dataType(type).updater(updater).list();
        for (SelfAttentionLayer layer : layers) {
            list.layer(layer);
        }
        MultiLayerConfiguration conf = list
                .layer(new RnnOutputLayer.Builder(LossFunction.MCXENT).activation(Activation.SOFTMAX)
                        .nOut(classes).build())
                .setInputType(InputType.recurrent(nIn, length))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /**
     * Multiplies the attention layers' parameters by 25 (weights std 0.02 → 0.5). At GPT-2's initial scale the attention scores are
     * ~1e-4 and the weights nearly uniform, which would make the probes below weak: a leak through a masked key,
     * or a wrong softmax gradient, would move the outputs by almost nothing.
     */
    static MultiLayerNetwork sharpened(MultiLayerNetwork net) {
        for (org.deeplearning4j.nn.api.Layer layer : net.getLayers()) {
            if (layer.conf().getLayer() instanceof SelfAttentionLayer) {
                layer.params().muli(25);
            }
        }
        return net;
    }

    /** [B, V, T] one-hot from token ids. */
    static INDArray oneHot(int[][] tokens, int vocab, DataType type) {
        INDArray x = Nd4j.zeros(type, tokens.length, vocab, tokens[0].length);
        for (int b = 0; b < tokens.length; b++) {
            for (int t = 0; t < tokens[b].length; t++) {
                x.putScalar(new int[] {b, tokens[b][t], t}, 1.0);
            }
        }
        return x;
    }

    /** [B, T] mask with the first (right padding) or last (left padding) {@code lengths[b]} steps real. */
    static INDArray mask(DataType type, boolean leftPadded, int... lengths) {
        INDArray mask = Nd4j.zeros(type, lengths.length, T);
        for (int b = 0; b < lengths.length; b++) {
            for (int i = 0; i < lengths[b]; i++) {
                mask.putScalar(b, leftPadded ? T - 1 - i : i, 1.0);
            }
        }
        return mask;
    }

    static INDArray step(INDArray x, int t) {
        return x.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(t));
    }

    static double maxAbsDiff(INDArray a, INDArray b) {
        return a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
    }

    // ---- 1. it learns ----------------------------------------------------------------------------------------

    /**
     * Label at t: the majority symbol among tokens 0..t (ties go to 1). Without positions, causal attention over
     * the prefix is a weighted count of each symbol — exactly what the task needs; a non-causal layer would see
     * the future and could not.
     */
    @Test
    void learnsPrefixMajorityInAMultiLayerNetwork() {
        int n = 256;
        int length = 8;
        SplittableRandom random = new SplittableRandom(11);
        int[][] tokens = new int[n][length];
        INDArray labels = Nd4j.zeros(DataType.FLOAT, n, 2, length);
        for (int b = 0; b < n; b++) {
            int ones = 0;
            for (int t = 0; t < length; t++) {
                tokens[b][t] = random.nextInt(2);
                ones += tokens[b][t];
                labels.putScalar(new int[] {b, 2 * ones >= t + 1 ? 1 : 0, t}, 1.0);
            }
        }
        DataSet data = new DataSet(oneHot(tokens, 2, DataType.FLOAT), labels);
        SelfAttentionLayer layer = new SelfAttentionLayer.Builder().nOut(16).heads(2).causal(true)
                .sequenceLength(length).build();   // nIn from setInputType
        MultiLayerNetwork net = network(DataType.FLOAT, new Adam(0.02), 42, 2, 2, length, layer);

        double initial = net.score(data);
        for (int i = 0; i < 150; i++) {
            net.fit(data);
        }
        double trained = net.score(data);
        INDArray predicted = net.output(data.getFeatures()).argMax(1);               // [B, T]
        double accuracy = predicted.eq(labels.argMax(1)).castTo(DataType.DOUBLE).meanNumber().doubleValue();
        System.out.printf("prefix majority: score %.4g -> %.4g, accuracy %.3f%n", initial, trained, accuracy);
        assertTrue(trained < 0.5 * initial, "score " + initial + " -> " + trained);
        assertTrue(accuracy > 0.9, "accuracy " + accuracy);
    }

    // ---- 2. save and restore ---------------------------------------------------------------------------------

    @Test
    void savedAndRestoredNetworkGivesTheSameOutputs(@TempDir Path dir) throws Exception {
        MultiLayerNetwork net = network(DataType.FLOAT, new Adam(0.01), 3, N_IN, 4, T,
                attention(N_IN, true, PositionType.ROPE), attention(WIDTH, false, PositionType.ALIBI));
        INDArray x = uniform(1, DataType.FLOAT, 3, N_IN, T);
        INDArray labels = oneHot(new int[][] {{0, 1, 2, 3, 0, 1}, {3, 3, 2, 2, 1, 0}, {1, 1, 1, 0, 0, 0}}, 4,
                DataType.FLOAT);
        INDArray mask = mask(DataType.FLOAT, false, 6, 4, 2);
        for (int i = 0; i < 3; i++) {
            net.fit(new DataSet(x, labels, mask, mask));                              // move off the initial values
        }

        File file = dir.resolve("attention.zip").toFile();
        ModelSerializer.writeModel(net, file, true);
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(file, true);

        assertEquals(net.getLayerWiseConfigurations().toJson(), restored.getLayerWiseConfigurations().toJson());
        SelfAttentionLayer conf = (SelfAttentionLayer) restored.getLayerWiseConfigurations().getConf(0).getLayer();
        assertEquals(N_IN, conf.getNIn());
        assertEquals(WIDTH, conf.getNOut());
        assertEquals(HEADS, conf.getHeads());
        assertTrue(conf.isCausal());
        assertEquals(PositionType.ROPE, conf.getPositions());
        assertEquals(T, conf.getSequenceLength());
        assertEquals(net.params(), restored.params());
        assertEquals(net.getUpdater().getStateViewArray(), restored.getUpdater().getStateViewArray());

        assertEquals(0, maxAbsDiff(net.output(x), restored.output(x)), 1e-6);
        assertEquals(0, maxAbsDiff(net.output(x, false, mask, null), restored.output(x, false, mask, null)), 1e-6);
        assertTrue(maxAbsDiff(net.output(x), net.output(x, false, mask, null)) > 1e-3, "the mask changed nothing");
    }

    @Test
    void initialisationFollowsTheNetworkSeed() {
        MultiLayerNetwork a = network(DataType.FLOAT, new Adam(0.01), 5, N_IN, 2, T, attention(N_IN, true, null));
        MultiLayerNetwork b = network(DataType.FLOAT, new Adam(0.01), 5, N_IN, 2, T, attention(N_IN, true, null));
        MultiLayerNetwork c = network(DataType.FLOAT, new Adam(0.01), 6, N_IN, 2, T, attention(N_IN, true, null));
        assertEquals(a.params(), b.params());
        assertNotEquals(a.getLayer(0).params(), c.getLayer(0).params());

        var table = a.getLayer(0).paramTable();
        assertEquals(List.of("Win", "Wqkv", "Wout", "bin", "bqkv", "bout"), List.copyOf(table.keySet()));
        assertArrayEquals(new long[] {N_IN, WIDTH}, table.get("Win").shape());
        assertArrayEquals(new long[] {WIDTH, 3 * WIDTH}, table.get("Wqkv").shape());
        assertArrayEquals(new long[] {WIDTH, WIDTH}, table.get("Wout").shape());
        for (String bias : List.of("bin", "bqkv", "bout")) {
            assertEquals(0, table.get(bias).amaxNumber().doubleValue(), bias);
        }
        double std = table.get("Wqkv").stdNumber().doubleValue();
        assertEquals(0.02, std, 0.005, "std of Wqkv");

        // nIn == nOut: no input projection
        MultiLayerNetwork square = network(DataType.FLOAT, new Adam(0.01), 5, WIDTH, 2, T,
                attention(WIDTH, false, null));
        assertEquals(List.of("Wqkv", "Wout", "bqkv", "bout"), List.copyOf(square.getLayer(0).paramTable().keySet()));
    }

    // ---- 3. causality ----------------------------------------------------------------------------------------

    @Test
    void causalOutputsNeverDependOnLaterInputs() {
        for (PositionType positions : Arrays.asList(null, PositionType.ROPE, PositionType.ALIBI)) {
            MultiLayerNetwork net = sharpened(network(DataType.FLOAT, new Adam(0.01), 7, N_IN, 2, T,
                    attention(N_IN, true, positions)));
            INDArray x = uniform(2, DataType.FLOAT, 2, N_IN, T);
            INDArray before = net.feedForward(x, false).get(1);                       // [B, d, T]
            for (int t = 0; t < T; t++) {
                INDArray changed = x.dup();
                step(changed, t).assign(uniform(100 + t, DataType.FLOAT, 2, N_IN));
                INDArray after = net.feedForward(changed, false).get(1);
                for (int s = 0; s < t; s++) {
                    assertEquals(0, maxAbsDiff(step(before, s), step(after, s)), 1e-6,
                            positions + ": output at " + s + " changed with the input at " + t);
                }
                assertTrue(maxAbsDiff(step(before, t), step(after, t)) > 1e-6,
                        positions + ": output at " + t + " ignores its own input");
            }
        }
        // Control: the same probe sees a bidirectional layer look ahead.
        MultiLayerNetwork bidirectional = sharpened(network(DataType.FLOAT, new Adam(0.01), 7, N_IN, 2, T,
                attention(N_IN, false, null)));
        INDArray x = uniform(2, DataType.FLOAT, 2, N_IN, T);
        INDArray changed = x.dup();
        step(changed, T - 1).assign(uniform(99, DataType.FLOAT, 2, N_IN));
        assertTrue(maxAbsDiff(step(bidirectional.feedForward(x, false).get(1), 0),
                step(bidirectional.feedForward(changed, false).get(1), 0)) > 1e-6);
    }

    // ---- 4. padding ------------------------------------------------------------------------------------------

    /**
     * A bidirectional layer then a causal one, with right padding, left padding and a full row. Real outputs must
     * not move when padded inputs change; padded outputs of both layers are 0 (so the mask reached the second
     * layer); nothing is NaN — in FLOAT, even where a causal query over left padding sees only padded keys.
     */
    @Test
    void realPositionsIgnorePaddedInputs() {
        MultiLayerNetwork net = sharpened(network(DataType.FLOAT, new Adam(0.01), 9, N_IN, 2, T,
                attention(N_IN, false, PositionType.ROPE), attention(WIDTH, true, PositionType.ALIBI)));
        INDArray right = mask(DataType.FLOAT, false, 4, 6, 1);
        INDArray left = mask(DataType.FLOAT, true, 3, 6, 5);
        INDArray mask = Nd4j.concat(0, right, left);                                  // [6, T]
        INDArray x = uniform(3, DataType.FLOAT, 6, N_IN, T);
        INDArray noisy = x.dup();
        INDArray noise = uniform(4, DataType.FLOAT, 6, N_IN, T).mul(10);
        INDArray padded = mask.rsub(1.0).reshape(6, 1, T).broadcast(6, N_IN, T);      // 1 where padded
        noisy.addi(noise.mul(padded));

        List<INDArray> clean = net.feedForward(x, mask, null);
        List<INDArray> dirty = net.feedForward(noisy, mask, null);
        INDArray real = mask.reshape(6, 1, T);
        for (int layer = 1; layer <= 3; layer++) {
            assertTrue(allFinite(clean.get(layer)) && allFinite(dirty.get(layer)), "NaN/Inf at layer " + layer);
            int width = (int) clean.get(layer).size(1);
            INDArray keep = real.broadcast(6, width, T);
            assertEquals(0, maxAbsDiff(clean.get(layer).mul(keep), dirty.get(layer).mul(keep)), 1e-6,
                    "a real output of layer " + layer + " depends on a padded input");
        }
        for (int layer = 1; layer <= 2; layer++) {
            INDArray atPadding = clean.get(layer).mul(mask.rsub(1.0).reshape(6, 1, T).broadcast(6, WIDTH, T));
            assertEquals(0, atPadding.amaxNumber().doubleValue(), "layer " + layer + " output at padding");
        }
        // Control: without the mask the padded inputs do leak into real positions.
        net.clearLayerMaskArrays();                                                   // feedForward keeps masks
        assertTrue(maxAbsDiff(net.feedForward(x, false).get(1).mul(real.broadcast(6, WIDTH, T)),
                net.feedForward(noisy, false).get(1).mul(real.broadcast(6, WIDTH, T))) > 1e-2);
    }

    // ---- 5. gradients ----------------------------------------------------------------------------------------

    /**
     * DL4J's own finite-difference check over every parameter, in DOUBLE with a NoOp updater. The absolute floor
     * of 1e-8 is for the key bias (part of bqkv), whose true gradient is 0 (it shifts every score of a query
     * equally): the central difference of a score of ~4 with ε = 1e-6 is only good to a few 1e-9.
     */
    @Test
    void gradientsMatchFiniteDifferences() {
        Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE);
        try {
            int b = 3;
            INDArray labels = oneHot(new int[][] {{0, 1, 1, 0, 1, 0}, {1, 1, 0, 0, 0, 1}, {0, 0, 1, 1, 1, 1}}, 2,
                    DataType.DOUBLE);
            // Causal + RoPE with an input projection, right padding: every query still sees a real key (a fully
            // masked row would be NaN in DOUBLE, M2.1's double softmax).
            MultiLayerNetwork causal = sharpened(network(DataType.DOUBLE, new NoOp(), 12, N_IN, 2, T,
                    attention(N_IN, true, PositionType.ROPE)));
            INDArray mask = mask(DataType.DOUBLE, false, 6, 4, 3);
            assertTrue(GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(causal)
                    .input(uniform(5, DataType.DOUBLE, b, N_IN, T)).labels(labels).inputMask(mask).labelMask(mask)
                    .epsilon(1e-6).maxRelError(1e-5).minAbsoluteError(1e-8)), "causal + rope + mask");

            // Bidirectional + ALiBi, nIn == nOut (no projection), two layers, no mask.
            MultiLayerNetwork stacked = sharpened(network(DataType.DOUBLE, new NoOp(), 13, WIDTH, 2, T,
                    attention(WIDTH, false, PositionType.ALIBI), attention(WIDTH, true, null)));
            assertTrue(GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(stacked)
                    .input(uniform(6, DataType.DOUBLE, b, WIDTH, T)).labels(labels)
                    .epsilon(1e-6).maxRelError(1e-5).minAbsoluteError(1e-8)), "bidirectional + alibi, stacked");
        } finally {
            Nd4j.setDefaultDataTypes(DataType.FLOAT, DataType.FLOAT);
        }
    }

    // ---- ComputationGraph, validation ------------------------------------------------------------------------

    @Test
    void worksInAComputationGraph() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(4).updater(new Adam(0.01)).graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.recurrent(N_IN, T))
                .addLayer("attention", new SelfAttentionLayer.Builder().nOut(WIDTH).heads(HEADS).causal(true)
                        .positions(PositionType.ROPE).sequenceLength(T).build(), "in")
                .addLayer("out", new RnnOutputLayer.Builder(LossFunction.MCXENT).activation(Activation.SOFTMAX)
                        .nOut(2).build(), "attention")
                .setOutputs("out")
                .build();
        assertEquals(conf, ComputationGraphConfiguration.fromJson(conf.toJson()));
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        INDArray x = uniform(8, DataType.FLOAT, 2, N_IN, T);
        INDArray mask = mask(DataType.FLOAT, false, 6, 3);
        INDArray labels = oneHot(new int[][] {{0, 1, 1, 0, 1, 0}, {1, 1, 0, 0, 0, 1}}, 2, DataType.FLOAT);
        double before = graph.score(new DataSet(x, labels, mask, mask));
        for (int i = 0; i < 20; i++) {
            graph.fit(new DataSet(x, labels, mask, mask));
        }
        assertTrue(graph.score(new DataSet(x, labels, mask, mask)) < before);
        INDArray out = graph.output(false, new INDArray[] {x}, new INDArray[] {mask})[0];
        assertArrayEquals(new long[] {2, 2, T}, out.shape());
        assertTrue(allFinite(out));
    }

    @Test
    void rejectsWrongLengthsAndEmbeddingPositions() {
        assertThrows(IllegalArgumentException.class, () -> new SelfAttentionLayer.Builder().nOut(WIDTH).heads(HEADS)
                .positions(PositionType.LEARNED).sequenceLength(T).build());
        assertThrows(IllegalArgumentException.class, () -> new SelfAttentionLayer.Builder().nOut(WIDTH).heads(3)
                .sequenceLength(T).build());
        assertThrows(IllegalArgumentException.class, () -> new SelfAttentionLayer.Builder().nOut(WIDTH).heads(HEADS)
                .build());
        assertThrows(IllegalArgumentException.class, () -> network(DataType.FLOAT, new Adam(0.01), 1, N_IN, 2, T + 1,
                attention(N_IN, true, null)));
        MultiLayerNetwork net = network(DataType.FLOAT, new Adam(0.01), 1, N_IN, 2, T, attention(N_IN, true, null));
        assertThrows(IllegalArgumentException.class, () -> net.output(uniform(1, DataType.FLOAT, 2, N_IN, T + 1)));
    }
}
