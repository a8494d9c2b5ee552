package io.ringformer.zoo.dl4j;

import io.ringformer.zoo.Initializer;
import io.ringformer.zoo.attention.MultiHeadAttention;
import io.ringformer.zoo.attention.PositionType;
import java.util.Arrays;
import java.util.Collection;
import java.util.Map;
import java.util.Objects;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.MaskState;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.InputTypeUtil;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffLayer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Our multi-head self-attention ({@link MultiHeadAttention#selfAttention}) as a Deeplearning4j layer, so that a
 * DL4J user can put it in a {@code MultiLayerNetwork} or a {@code ComputationGraph}:
 *
 * <pre>{@code
 * .layer(new SelfAttentionLayer.Builder().nOut(64).heads(4).causal(true).positions(PositionType.ROPE)
 *         .sequenceLength(128).build())
 * }</pre>
 *
 * <p>Input and output are DL4J recurrent activations in NCW layout: [B, nIn, T] in, [B, nOut, T] out. The layer is
 * attention only — no residual connection, LayerNorm or MLP — so it composes with DL4J's own layers.
 *
 * <p>Choices a user should know about:
 * <ul>
 *   <li><b>Static T.</b> {@link MultiHeadAttention} splits heads with a reshape to a fixed length, and DL4J builds
 *       the layer's graph once, from the first input it sees. So {@code sequenceLength} is a required setting;
 *       every input must have exactly that many steps (pad shorter sequences and give a mask), and a recurrent
 *       input type whose length is known must agree with it. {@code rnnTimeStep} and truncated BPTT do not fit
 *       this layer.</li>
 *   <li><b>nIn vs nOut.</b> nOut is the model width d. When nIn ≠ nOut an input projection [nIn, d] (+[d]) maps
 *       the features to width d first; when they are equal there is none, and the parameters are exactly those of
 *       a GPT-2 attention block.</li>
 *   <li><b>Positions.</b> {@code null} (the default) means none: attention is then order-blind apart from the
 *       causal mask. ROPE and ALIBI act inside attention. LEARNED and SINUSOIDAL are rejected, because they belong
 *       to the embeddings, not here — add them to the input before this layer.</li>
 *   <li><b>Mask.</b> DL4J's [B, T] feature mask (1 real, 0 padding) is the padding mask: no query attends to a
 *       padded key. Outputs at padded steps are set to 0, as DL4J's recurrent layers do, and the mask flows on
 *       unchanged to the next layer. In DOUBLE precision a query whose every visible key is padded (causal
 *       attention over left padding) gives NaN, from M2.1's double softmax; FLOAT gives 0 there.</li>
 *   <li><b>Initialisation.</b> GPT-2's: weights N(0, 0.02²), biases 0, drawn by our {@link Initializer} from a
 *       seed taken from ND4J's RNG, which DL4J seeds with the network seed before it initialises parameters —
 *       so the same network seed gives the same weights. {@code weightInit} is ignored.</li>
 *   <li><b>Gradients.</b> M2.1 doubles every SameDiff layer's gradients (see {@link GradientFix}); this layer
 *       halves them back, so it passes DL4J's gradient check and trains at the learning rate asked for.</li>
 *   <li><b>No attention dropout.</b> DL4J builds one graph for training and inference, so the graph has no
 *       dropout op; a layer-level {@code dropOut(...)} of DL4J still applies to this layer's input.</li>
 * </ul>
 *
 * <p>Parameters, in DL4J's flattened order (weights first, then biases; each 'c' order): {@code Win} [nIn, d]
 * (only when nIn ≠ nOut), {@code Wqkv} [d, 3d], {@code Wout} [d, d], then {@code bin} [d] (only when nIn ≠ nOut),
 * {@code bqkv} [3d], {@code bout} [d]. Columns of {@code Wqkv} are [q | k | v], each split into heads of d/H
 * consecutive columns.
 *
 * <p>Configuration is serialised by DL4J as JSON through (shaded) Jackson: hence the public no-arg constructor
 * and a getter and setter for every setting.
 */
public class SelfAttentionLayer extends SameDiffLayer {

    public static final String INPUT_WEIGHT = "Win";
    public static final String INPUT_BIAS = "bin";
    public static final String QKV_WEIGHT = "Wqkv";
    public static final String QKV_BIAS = "bqkv";
    public static final String OUT_WEIGHT = "Wout";
    public static final String OUT_BIAS = "bout";

    /** GPT-2's initial standard deviation of every weight matrix. */
    public static final double INIT_STD = 0.02;

    private long nIn;
    private long nOut;
    private int heads = 1;
    private boolean causal;
    private PositionType positions;
    private int sequenceLength;

    /** For Jackson; set every field through the setters before use. */
    public SelfAttentionLayer() {}

    protected SelfAttentionLayer(Builder builder) {
        super(builder);
        this.nIn = builder.nIn;
        this.nOut = builder.nOut;
        this.heads = builder.heads;
        this.causal = builder.causal;
        this.positions = builder.positions;
        this.sequenceLength = builder.sequenceLength;
        spec(); // fails fast on an invalid width, head count or position type
        if (sequenceLength <= 0) {
            throw new IllegalArgumentException("sequenceLength (T) is required and must be positive, got "
                    + sequenceLength);
        }
    }

    /** The attention settings in our own terms; validates them. Dropout is 0: see the class comment. */
    private MultiHeadAttention.Spec spec() {
        if (positions != null && positions.isAbsolute()) {
            throw new IllegalArgumentException("positions " + positions + " belong to the embeddings; this layer "
                    + "takes ROPE, ALIBI or null (none)");
        }
        // MultiHeadAttention reads LEARNED as "nothing inside attention", which is what null means here.
        PositionType inside = positions == null ? PositionType.LEARNED : positions;
        return new MultiHeadAttention.Spec(Math.toIntExact(nOut), heads, causal, inside, 0.0);
    }

    private boolean projectsInput() {
        return nIn != nOut;
    }

    // ---- parameters ------------------------------------------------------------------------------------------

    @Override
    public void defineParameters(SDLayerParams params) {
        if (nIn <= 0 || nOut <= 0) {
            throw new IllegalStateException("nIn and nOut must be set (nIn " + nIn + ", nOut " + nOut
                    + "); give nIn or let setInputType(...) infer it");
        }
        params.clear();
        if (projectsInput()) {
            params.addWeightParam(INPUT_WEIGHT, nIn, nOut);
            params.addBiasParam(INPUT_BIAS, nOut);
        }
        params.addWeightParam(QKV_WEIGHT, nOut, 3 * nOut);
        params.addBiasParam(QKV_BIAS, 3 * nOut);
        params.addWeightParam(OUT_WEIGHT, nOut, nOut);
        params.addBiasParam(OUT_BIAS, nOut);
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        // DL4J calls Nd4j.getRandom().setSeed(networkSeed) before initialising a network's parameters: one draw from
        // it seeds our own stream, so the weights follow the network seed and the layer's place in the network.
        DataType type = params.values().iterator().next().dataType();
        Initializer init = new Initializer(Nd4j.getRandom().nextLong(), type);
        for (String name : getLayerParams().getParameterKeys()) {     // a fixed order, so draws are reproducible
            INDArray view = params.get(name);                         // 'c'-order view into the network's params
            if (getLayerParams().isBiasParam(name)) {
                view.assign(0);
            } else {
                view.assign(init.normal(INIT_STD, view.shape()));
            }
        }
    }

    // ---- the graph -------------------------------------------------------------------------------------------

    /**
     * @param input  [B, nIn, T]
     * @param params by name, as declared in {@link #defineParameters}
     * @param mask   [B, T] 1 real, 0 padding; M2.1 gives a mask of ones when the network has none
     * @return [B, nOut, T]
     */
    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable input, Map<String, SDVariable> params, SDVariable mask) {
        int t = sequenceLength;
        long d = nOut;
        SDVariable rows = sd.reshape(sd.permute(input, 0, 2, 1), -1, nIn);              // [B·T, nIn]
        if (projectsInput()) {
            rows = sd.nn.linear(rows, params.get(INPUT_WEIGHT), params.get(INPUT_BIAS)); // [B·T, d]
        }
        SDVariable keep = mask == null ? null : sd.reshape(mask.castTo(input.dataType()), -1, t); // [B, T]
        MultiHeadAttention.SelfWeights weights = new MultiHeadAttention.SelfWeights(
                params.get(QKV_WEIGHT), params.get(QKV_BIAS), params.get(OUT_WEIGHT), params.get(OUT_BIAS));
        SDVariable attended = new MultiHeadAttention(spec())
                .selfAttention(sd, "attention", rows, t, keep, weights, null).rows();    // [B·T, d]
        SDVariable out = sd.permute(sd.reshape(attended, -1, t, d), 0, 2, 1);             // [B, d, T]
        if (keep != null) {
            out = out.mul(sd.reshape(keep, -1, 1, t));                                    // [B, d, T], 0 at padding
        }
        return out;
    }

    /** DL4J's own SameDiff layer runtime, with the M2.1 gradient bug undone ({@link GradientFix}). */
    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int layerIndex,
                             INDArray layerParamsView, boolean initializeParams, DataType networkDataType) {
        GradientFix layer = new GradientFix(conf, networkDataType);
        layer.setIndex(layerIndex);
        layer.setParamsViewArray(layerParamsView);
        layer.setParamTable(initializer().init(conf, layerParamsView, initializeParams));
        layer.setConf(conf);
        layer.setListeners(listeners);
        return layer;
    }

    /**
     * M2.1 bug: DL4J feeds the upstream gradient into a SameDiff layer through an {@code ExternalErrorsFunction},
     * whose {@code doDiff} both registers its gradient placeholder as the gradient of the layer output and returns
     * it as the op's input gradient; SameDiff adds the two, so the output's gradient is 2 × the upstream error and
     * every parameter and input gradient of the layer is doubled (a stack of k such layers: 2^k at the bottom).
     * Seen with a plain linear SameDiffLayer as with this one. The workaround halves, exactly, what DL4J's runtime
     * returns; {@code SelfAttentionLayerTest}'s gradient check fails if a DL4J release fixes the bug and this
     * becomes wrong.
     */
    static final class GradientFix extends org.deeplearning4j.nn.layers.samediff.SameDiffLayer {

        GradientFix(NeuralNetConfiguration conf, DataType dataType) {
            super(conf, dataType);
        }

        @Override
        public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
            Pair<Gradient, INDArray> result = super.backpropGradient(epsilon, workspaceMgr);
            for (INDArray gradient : result.getFirst().gradientForVariable().values()) {
                gradient.muli(0.5);                  // views into the network's flat gradient: halved in place
            }
            result.getSecond().muli(0.5);            // dL/dinput, [B, nIn, T]
            return result;
        }
    }

    /** The padding mask applies to every later time step unchanged: attention keeps the sequence length. */
    @Override
    public Pair<INDArray, MaskState> feedForwardMaskArray(INDArray maskArray, MaskState currentMaskState,
                                                          int minibatchSize) {
        return new Pair<>(maskArray, currentMaskState);
    }

    /** Checked on every forward and backward pass: a wrong T would otherwise fail deep inside a reshape. */
    @Override
    public void validateInput(INDArray input) {
        if (input.rank() != 3 || input.size(1) != nIn || input.size(2) != sequenceLength) {
            throw new IllegalArgumentException("SelfAttentionLayer " + layerName + " expects NCW input [B, " + nIn
                    + ", " + sequenceLength + "], got " + Arrays.toString(input.shape())
                    + "; pad or cut sequences to sequenceLength and give a mask");
        }
    }

    // ---- input and output types ------------------------------------------------------------------------------

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        checkRecurrent(inputType);
        return InputType.recurrent(nOut, sequenceLength, RNNFormat.NCW);
    }

    @Override
    public void setNIn(InputType inputType, boolean override) {
        InputType.InputTypeRecurrent recurrent = checkRecurrent(inputType);
        if (nIn <= 0 || override) {
            if (nIn != recurrent.getSize()) {
                setLayerParams(null); // the parameter set depends on nIn: define it again on next use
            }
            nIn = recurrent.getSize();
        }
    }

    @Override
    public InputPreProcessor getPreProcessorForInputType(InputType inputType) {
        return InputTypeUtil.getPreprocessorForInputTypeRnnLayers(inputType, RNNFormat.NCW, layerName);
    }

    private InputType.InputTypeRecurrent checkRecurrent(InputType inputType) {
        if (!(inputType instanceof InputType.InputTypeRecurrent recurrent)) {
            throw new IllegalArgumentException("SelfAttentionLayer " + layerName + " takes recurrent input, got "
                    + inputType);
        }
        if (recurrent.getFormat() != RNNFormat.NCW) {
            throw new IllegalArgumentException("SelfAttentionLayer " + layerName + " takes NCW input, got "
                    + recurrent.getFormat());
        }
        long length = recurrent.getTimeSeriesLength();
        if (length > 0 && length != sequenceLength) {
            throw new IllegalArgumentException("SelfAttentionLayer " + layerName + " is built for T = "
                    + sequenceLength + " but the input has T = " + length);
        }
        return recurrent;
    }

    // ---- settings (Jackson) ----------------------------------------------------------------------------------

    public long getNIn() {
        return nIn;
    }

    public void setNIn(long nIn) {
        this.nIn = nIn;
    }

    public long getNOut() {
        return nOut;
    }

    public void setNOut(long nOut) {
        this.nOut = nOut;
    }

    public int getHeads() {
        return heads;
    }

    public void setHeads(int heads) {
        this.heads = heads;
    }

    public boolean isCausal() {
        return causal;
    }

    public void setCausal(boolean causal) {
        this.causal = causal;
    }

    /** ROPE, ALIBI, or null for none. */
    public PositionType getPositions() {
        return positions;
    }

    public void setPositions(PositionType positions) {
        this.positions = positions;
    }

    public int getSequenceLength() {
        return sequenceLength;
    }

    public void setSequenceLength(int sequenceLength) {
        this.sequenceLength = sequenceLength;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SelfAttentionLayer other && super.equals(o) && nIn == other.nIn && nOut == other.nOut
                && heads == other.heads && causal == other.causal && positions == other.positions
                && sequenceLength == other.sequenceLength;
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), nIn, nOut, heads, causal, positions, sequenceLength);
    }

    @Override
    public String toString() {
        return "SelfAttentionLayer(name=" + layerName + ", nIn=" + nIn + ", nOut=" + nOut + ", heads=" + heads
                + ", causal=" + causal + ", positions=" + positions + ", sequenceLength=" + sequenceLength + ")";
    }

    /** DL4J-style builder; also takes DL4J's common settings (name, updater, l2, dropOut, ...). */
    public static class Builder extends SameDiffLayer.Builder<Builder> {
        private long nIn;
        private long nOut;
        private int heads = 1;
        private boolean causal;
        private PositionType positions;
        private int sequenceLength;

        /** Input features; may be left out when the network is given {@code setInputType(...)}. */
        public Builder nIn(long nIn) {
            this.nIn = nIn;
            return this;
        }

        /** Model width d, a multiple of {@link #heads}. */
        public Builder nOut(long nOut) {
            this.nOut = nOut;
            return this;
        }

        public Builder heads(int heads) {
            this.heads = heads;
            return this;
        }

        /** Whether step t may only attend to steps ≤ t. */
        public Builder causal(boolean causal) {
            this.causal = causal;
            return this;
        }

        /** ROPE, ALIBI, or null (the default) for none. */
        public Builder positions(PositionType positions) {
            this.positions = positions;
            return this;
        }

        /** T, required: every input must have exactly this many steps. */
        public Builder sequenceLength(int sequenceLength) {
            this.sequenceLength = sequenceLength;
            return this;
        }

        @Override
        @SuppressWarnings("unchecked")
        public SelfAttentionLayer build() {
            return new SelfAttentionLayer(this);
        }
    }
}
