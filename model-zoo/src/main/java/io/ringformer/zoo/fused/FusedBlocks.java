package io.ringformer.zoo.fused;

import io.ringformer.zoo.attention.AlibiBias;
import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.attention.RotaryPositions;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * The stack of pre-LN transformer blocks every fused model shares ({@code TransformerBlock}'s graph, written out by
 * hand): {@code x + Attn(LN₁(x))}, then {@code x + MLP(LN₂(x))}, forward and backward, as oneDNN GEMMs bound once
 * to pre-allocated memory and element-wise {@link Kernels}. A family's fused model embeds its input into the rows
 * this stack starts from and puts its head on the rows it ends with.
 *
 * <p>What differs between families is a parameter of the {@link Shape}, never a branch on the family: causal
 * attention (GPT) or attention over each sequence's real keys (the encoders: {@code keys[b]} real keys, padding
 * last; null when every key is real), the positions the attention applies itself (RoPE rotates q and k, ALiBi
 * biases causal scores), and the {@link FusedAttention} between the projections (dense or memory-efficient).
 *
 * <p>Notation: B sequences of T rows make N = B·T rows; width d, H heads of dh = d/H, MLP width F = 4d. In bf16
 * every GEMM multiplies bf16 copies of its operands with fp32 accumulation; LayerNorm, softmax and GELU stay fp32.
 */
public final class FusedBlocks {

    /**
     * LayerNorm's ε. ND4J's layer_norm, which the graphs use, adds none (PyTorch adds 1e-5); this one only keeps a
     * constant row finite and is far below fp32's resolution of any real variance, so both backends agree.
     */
    public static final float LAYER_NORM_EPS = 1e-12f;

    /**
     * @param layers    blocks, named {@code h0 … h(layers − 1)} in the parameter layout
     * @param length    T, the rows of one sequence
     * @param causal    causal attention; otherwise each row attends to its sequence's real keys
     * @param positions what the attention applies itself: ROPE and ALIBI; LEARNED and SINUSOIDAL belong to the
     *                  embedding and change nothing here
     * @param attention the attention between the projections ({@code Attention.fused()})
     */
    public record Shape(int layers, int heads, int width, int length, boolean causal, PositionType positions,
                        FusedAttention.Factory attention) {
        public Shape {
            if (!causal && positions == PositionType.ALIBI) {
                throw new IllegalArgumentException("ALiBi biases causal attention only here");
            }
        }

        /** With {@code full} attention. */
        public Shape(int layers, int heads, int width, int length, boolean causal, PositionType positions) {
            this(layers, heads, width, length, causal, positions, DenseAttention::new);
        }
    }

    private final Shape shape;
    private final FusedParameters parameters;
    private final Kernels kernels;
    private final boolean bf16;
    private final int maxSequences;
    private final int t;
    private final int d;
    private final int heads;
    private final int dh;
    private final Layer[] layers;
    private final ByteBuffer ropeCos;     // [T, dh/2] or null
    private final ByteBuffer ropeSin;     // [T, dh/2] or null
    private final FusedAttention attention;

    // Backward scratch, shared by all layers.
    private final Activations dResidual;  // [N, d] gradient of the residual stream
    private final Activations dNormed;    // [N, d] gradient of a LayerNorm's output
    private final Activations dAttended;  // [N, d] gradient of the attention output before its projection
    private final Activations dQkv;       // [N, 3d]
    private final Activations dGelu;      // [N, F] gradient of the GELU output
    private final Activations dHidden;    // [N, F] gradient of the GELU input

    private final LayerPlan[][] plans;    // by number of sequences, made on first use
    private int[] keys;                   // the real keys of each sequence in the current pass, or null

    public FusedBlocks(Shape shape, FusedParameters parameters, int maxSequences) {
        this.shape = shape;
        this.parameters = parameters;
        this.kernels = parameters.kernels();
        this.bf16 = parameters.isBf16();
        this.maxSequences = maxSequences;
        this.t = shape.length();
        this.d = shape.width();
        this.heads = shape.heads();
        this.dh = d / heads;
        int n = maxSequences * t;
        layers = new Layer[shape.layers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer(l, n);
        }
        if (shape.positions() == PositionType.ROPE) {
            ropeCos = table(halves(RotaryPositions.angles(t, dh, false)));
            ropeSin = table(halves(RotaryPositions.angles(t, dh, true)));
        } else {
            ropeCos = null;
            ropeSin = null;
        }
        float[] alibiSlopes = null;
        if (shape.positions() == PositionType.ALIBI) {
            double[] slopes = AlibiBias.slopes(heads);
            alibiSlopes = new float[heads];
            for (int h = 0; h < heads; h++) {
                alibiSlopes[h] = (float) slopes[h];
            }
        }
        dResidual = new Activations(n, d, bf16, kernels);
        dNormed = new Activations(n, d, false, kernels);
        dAttended = new Activations(n, d, false, kernels);
        dQkv = new Activations(n, 3 * d, bf16, kernels);
        dGelu = new Activations(n, 4 * d, false, kernels);
        dHidden = new Activations(n, 4 * d, bf16, kernels);
        NativeBuffer[] qkv = new NativeBuffer[layers.length];
        NativeBuffer[] attended = new NativeBuffer[layers.length];
        for (int l = 0; l < layers.length; l++) {
            qkv[l] = layers[l].qkv.f32;
            attended[l] = layers[l].attended.f32;
        }
        attention = shape.attention().create(new FusedAttention.Context(layers.length, heads, dh, t, shape.causal(),
                alibiSlopes, bf16, kernels, maxSequences, qkv, attended, dAttended.f32, dQkv.f32));
        plans = new LayerPlan[maxSequences + 1][];
    }

    public Shape shape() {
        return shape;
    }

    /**
     * The forward pass over {@code sequences} sequences of rows x [N, d] (the embedding's output; the backward pass
     * reads it again).
     *
     * @param keys     each sequence's real keys, padding last, or null (all real; causal attention ignores it)
     * @param training whether a backward pass follows (GELU's slope is saved)
     * @return the rows leaving the last block, [N, d]
     */
    public Activations forward(int sequences, Activations x, int[] keys, boolean training) {
        LayerPlan[] plan = plan(sequences);
        this.keys = keys;
        int n = sequences * t;
        for (Layer layer : layers) {
            layer.forward(plan[layer.index], x, n, training);
            x = layer.output;
        }
        return x;
    }

    /** The rows leaving the last block in the last forward pass. */
    public Activations output() {
        return layers[layers.length - 1].output;
    }

    /**
     * Where a head puts ∂L/∂output before {@link #backward}, and where the backward pass leaves ∂L/∂x for the
     * embedding's backward pass.
     */
    public Activations residualGradient() {
        return dResidual;
    }

    /** The backward pass of the last {@link #forward}: ∂L/∂output in {@link #residualGradient} becomes ∂L/∂x. */
    public void backward(int sequences) {
        backward(sequences, layer -> { });
    }

    /** As {@link #backward(int)}, telling {@code finished} each layer's index as soon as its gradients are complete. */
    public void backward(int sequences, IntConsumer finished) {
        LayerPlan[] plan = plan(sequences);
        int n = sequences * t;
        for (int l = layers.length - 1; l >= 0; l--) {
            layers[l].backward(plan[l], n);
            finished.accept(l);
        }
    }

    /** The names of layer {@code l}'s parameters among {@code names} (they all start "h{l}/"). */
    public static List<String> layerParameters(int l, Collection<String> names) {
        String prefix = "h" + l + "/";
        return names.stream().filter(name -> name.startsWith(prefix)).sorted().toList();
    }

    /** The attention probabilities [B, H, T, T] of {@code layer} from the last forward pass (for maps). */
    public float[] attentionMap(int layer, int sequences) {
        return attention.map(layer, sequences, keys);
    }

    /** One pre-LN block's saved activations, and its forward and backward passes. */
    private final class Layer {
        final int index;
        final String name;
        final FusedParameters.Parameter ln1Gain;
        final FusedParameters.Parameter ln1Bias;
        final FusedParameters.Parameter bQkv;
        final FusedParameters.Parameter bOut;
        final FusedParameters.Parameter ln2Gain;
        final FusedParameters.Parameter ln2Bias;
        final FusedParameters.Parameter bFc;
        final FusedParameters.Parameter bProj;
        final Activations ln1;          // [N, d]
        final Activations.Stats ln1Stats;
        final Activations qkv;          // [N, 3d]: q | k | v, each H heads of dh (after RoPE when it applies)
        final Activations attended;     // [N, d] heads merged, before the output projection
        final Activations middle;       // [N, d] the residual stream after attention
        final Activations ln2;          // [N, d]
        final Activations.Stats ln2Stats;
        final Activations hidden;       // [N, F] before GELU
        final Activations activated;    // [N, F] after GELU
        final Activations geluSlope;    // [N, F] GELU's derivative at hidden, saved by a training forward pass
        final Activations output;       // [N, d] the residual stream leaving the block
        Activations input;              // [N, d] the residual stream entering the block (the previous output)

        Layer(int index, int n) {
            this.index = index;
            name = "h" + index;
            ln1Gain = parameters.parameter(name + "/ln_1/gain", d);
            ln1Bias = parameters.parameter(name + "/ln_1/bias", d);
            bQkv = parameters.parameter(name + "/attn/b_qkv", 3 * d);
            bOut = parameters.parameter(name + "/attn/b_out", d);
            ln2Gain = parameters.parameter(name + "/ln_2/gain", d);
            ln2Bias = parameters.parameter(name + "/ln_2/bias", d);
            bFc = parameters.parameter(name + "/mlp/b_fc", 4 * d);
            bProj = parameters.parameter(name + "/mlp/b_proj", d);
            ln1 = new Activations(n, d, bf16, kernels);
            ln1Stats = new Activations.Stats(n);
            qkv = new Activations(n, 3 * d, false, kernels);
            attended = new Activations(n, d, bf16, kernels);
            middle = new Activations(n, d, false, kernels);
            ln2 = new Activations(n, d, bf16, kernels);
            ln2Stats = new Activations.Stats(n);
            hidden = new Activations(n, 4 * d, false, kernels);
            activated = new Activations(n, 4 * d, bf16, kernels);
            geluSlope = new Activations(n, 4 * d, false, kernels);
            output = new Activations(n, d, false, kernels);
        }

        void forward(LayerPlan p, Activations x, int n, boolean training) {
            input = x;
            kernels.layerNorm(x.bytes, ln1Gain.value(), ln1Bias.value(), ln1.bytes,
                    ln1Stats.mean, ln1Stats.rstd, n, d, LAYER_NORM_EPS);                      // [N, d]
            ln1.roundToBf16(n);
            p.qkv.run();                                                                      // [N, 3d]
            if (ropeCos != null) {
                kernels.rope(qkv.bytes, n, t, heads, dh, ropeCos, ropeSin, false);            // q, k rotated
            }
            attention.forward(index, n / t, FusedBlocks.this.keys);                           // attended [N, d]
            attended.roundToBf16(n);
            p.out.run();                                                                      // [N, d] projected
            kernels.add(x.bytes, middle.bytes, middle.bytes, n * d);                         // residual

            kernels.layerNorm(middle.bytes, ln2Gain.value(), ln2Bias.value(), ln2.bytes,
                    ln2Stats.mean, ln2Stats.rstd, n, d, LAYER_NORM_EPS);                      // [N, d]
            ln2.roundToBf16(n);
            p.fc.run();                                                                       // [N, F]
            kernels.gelu(hidden.bytes, activated.bytes, training ? geluSlope.bytes : null, n * 4 * d); // [N, F]
            activated.roundToBf16(n);
            p.proj.run();                                                                     // [N, d]
            kernels.add(middle.bytes, output.bytes, output.bytes, n * d);                    // residual
        }

        /** Takes dResidual = ∂L/∂output and leaves ∂L/∂input in it. */
        void backward(LayerPlan p, int n) {
            // MLP: output = middle + GELU(ln₂(middle)·W_fc + b_fc)·W_proj + b_proj
            dResidual.roundToBf16(n);
            p.dProjWeight.run();                                                              // ∂W_proj = actᵀ·dOut
            kernels.columnSums(dResidual.bytes, bProj.gradient(), n, d);
            p.dActivated.run();                                                               // dAct = dOut·W_projᵀ
            kernels.geluBackward(dGelu.bytes, geluSlope.bytes, dHidden.bytes, n * 4 * d);     // dHidden [N, F]
            dHidden.roundToBf16(n);
            p.dFcWeight.run();                                                                // ∂W_fc = ln₂ᵀ·dHidden
            kernels.columnSums(dHidden.bytes, bFc.gradient(), n, 4 * d);
            p.dLn2.run();                                                                     // dLn₂ = dHidden·W_fcᵀ
            kernels.layerNormBackward(dNormed.bytes, middle.bytes, ln2Gain.value(), ln2Stats.mean,
                    ln2Stats.rstd, dResidual.bytes, ln2Gain.gradient(), ln2Bias.gradient(), n, d);

            // Attention: middle = input + attend(ln₁(input))·W_out + b_out
            dResidual.roundToBf16(n);
            p.dOutWeight.run();                                                               // ∂W_out = attᵀ·dMid
            kernels.columnSums(dResidual.bytes, bOut.gradient(), n, d);
            p.dAttended.run();                                                                // dAtt = dMid·W_outᵀ
            attention.backward(index, n / t, FusedBlocks.this.keys);                          // dQkv [N, 3d]
            if (ropeCos != null) {
                kernels.rope(dQkv.bytes, n, t, heads, dh, ropeCos, ropeSin, true);            // back to unrotated
            }
            dQkv.roundToBf16(n);
            p.dQkvWeight.run();                                                               // ∂W_qkv = ln₁ᵀ·dQkv
            kernels.columnSums(dQkv.bytes, bQkv.gradient(), n, 3 * d);
            p.dLn1.run();                                                                     // dLn₁ = dQkv·W_qkvᵀ
            kernels.layerNormBackward(dNormed.bytes, input.bytes, ln1Gain.value(), ln1Stats.mean,
                    ln1Stats.rstd, dResidual.bytes, ln1Gain.gradient(), ln1Bias.gradient(), n, d);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // GEMM plans: every matmul of a block, bound to its buffers for a given number of sequences.

    private record LayerPlan(Matmul qkv, Matmul out, Matmul fc, Matmul proj,
                             Matmul dProjWeight, Matmul dActivated, Matmul dFcWeight, Matmul dLn2,
                             Matmul dOutWeight, Matmul dAttended, Matmul dQkvWeight, Matmul dLn1) {}

    private LayerPlan[] plan(int sequences) {
        if (sequences < 1 || sequences > maxSequences) {
            throw new IllegalArgumentException("1 to " + maxSequences + " sequences per call, got " + sequences);
        }
        if (plans[sequences] == null) {
            plans[sequences] = createPlan(sequences);
        }
        return plans[sequences];
    }

    private LayerPlan[] createPlan(int b) {
        int n = b * t;
        LayerPlan[] layerPlans = new LayerPlan[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Layer layer = layers[l];
            String name = layer.name;
            View wQkv = parameters.weight(name + "/attn/w_qkv", d, 3 * d);
            View wOut = parameters.weight(name + "/attn/w_out", d, d);
            View wFc = parameters.weight(name + "/mlp/w_fc", d, 4 * d);
            View wProj = parameters.weight(name + "/mlp/w_proj", 4 * d, d);
            layerPlans[l] = new LayerPlan(
                    Matmul.of(layer.ln1.gemm(n), wQkv, parameters.bias(name + "/attn/b_qkv", 3 * d),
                            layer.qkv.matrix(n), false),
                    Matmul.of(layer.attended.gemm(n), wOut, parameters.bias(name + "/attn/b_out", d),
                            layer.middle.matrix(n), false),
                    Matmul.of(layer.ln2.gemm(n), wFc, parameters.bias(name + "/mlp/b_fc", 4 * d),
                            layer.hidden.matrix(n), false),
                    Matmul.of(layer.activated.gemm(n), wProj, parameters.bias(name + "/mlp/b_proj", d),
                            layer.output.matrix(n), false),
                    Matmul.of(layer.activated.gemm(n).transposed(), dResidual.gemm(n), null,
                            parameters.gradient(name + "/mlp/w_proj", 4 * d, d), false),
                    Matmul.of(dResidual.gemm(n), wProj.transposed(), null, dGelu.matrix(n), false),
                    Matmul.of(layer.ln2.gemm(n).transposed(), dHidden.gemm(n), null,
                            parameters.gradient(name + "/mlp/w_fc", d, 4 * d), false),
                    Matmul.of(dHidden.gemm(n), wFc.transposed(), null, dNormed.matrix(n), false),
                    Matmul.of(layer.attended.gemm(n).transposed(), dResidual.gemm(n), null,
                            parameters.gradient(name + "/attn/w_out", d, d), false),
                    Matmul.of(dResidual.gemm(n), wOut.transposed(), null, dAttended.matrix(n), false),
                    Matmul.of(layer.ln1.gemm(n).transposed(), dQkv.gemm(n), null,
                            parameters.gradient(name + "/attn/w_qkv", d, 3 * d), false),
                    Matmul.of(dQkv.gemm(n), wQkv.transposed(), null, dNormed.matrix(n), false));
        }
        return layerPlans;
    }

    /** A constant table [rows, columns] in native memory. */
    public static ByteBuffer table(float[][] values) {
        int rows = values.length;
        int columns = values[0].length;
        ByteBuffer bytes = NativeBuffer.allocate((long) rows * columns, ElementType.F32).bytes();
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < columns; c++) {
                bytes.putFloat(4 * (r * columns + c), values[r][c]);
            }
        }
        return bytes;
    }

    /** The first half of each row: RotaryPositions repeats each angle for both halves of a head. */
    private static float[][] halves(float[][] table) {
        float[][] half = new float[table.length][];
        for (int p = 0; p < table.length; p++) {
            half[p] = java.util.Arrays.copyOf(table[p], table[p].length / 2);
        }
        return half;
    }
}
