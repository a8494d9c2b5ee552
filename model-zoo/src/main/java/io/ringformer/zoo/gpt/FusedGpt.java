package io.ringformer.zoo.gpt;

import io.ringformer.zoo.attention.AlibiBias;
import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.attention.RotaryPositions;
import io.ringformer.zoo.attention.SinusoidalPositions;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.FusedModel;
import io.ringformer.zoo.fused.ElementType;
import io.ringformer.zoo.fused.Kernels;
import io.ringformer.zoo.fused.Matmul;
import io.ringformer.zoo.fused.NativeBuffer;
import io.ringformer.zoo.fused.Reorder;
import io.ringformer.zoo.fused.View;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.Map;

/**
 * The {@link Gpt}'s training step written out by hand: the same model, parameters and loss, with its forward and
 * backward passes as explicit GEMMs (oneDNN {@link Matmul}s bound once to pre-allocated memory) and element-wise
 * {@link Kernels} (the Java Vector API). The SameDiff graph stays the reference this class is tested against.
 *
 * <p>Parameters and gradients are flat vectors in the layout the trainer uses ({@code offsets} gives each named
 * variable's place). Every activation the backward pass needs has a buffer of its own, allocated once for at most
 * {@code maxSequences} sequences; a step allocates nothing.
 *
 * <p>Notation: B sequences of T tokens make N = B·T rows; width d, H heads of dh = d/H, MLP width F = 4d,
 * vocabulary V. Rows are activations [N, ·], row-major. Attention probabilities are [B, H, T, T].
 *
 * <p>In bf16 every GEMM (projections, LM head, and the attention products on heads split out of the qkv rows)
 * multiplies bf16 copies of its operands with fp32 accumulation and fp32 results; weights, gradients, LayerNorm,
 * softmax, GELU and the loss stay fp32. Dropout is not supported here: such models train on SameDiff.
 */
public final class FusedGpt implements FusedModel {

    /**
     * LayerNorm's ε. ND4J's layer_norm, which the graph uses, adds none (PyTorch adds 1e-5); this one only keeps a
     * constant row finite and is far below fp32's resolution of any real variance, so both backends agree.
     */
    static final float LAYER_NORM_EPS = 1e-12f;

    private final Gpt.Config config;
    private final boolean bf16;
    private final Kernels kernels;
    private final int maxSequences;
    private final int t;      // T
    private final int d;      // d
    private final int heads;  // H
    private final int dh;     // d / H
    private final int v;      // V
    private final int parameterCount;

    // Flat parameters and gradients, and a bf16 copy of the parameters for the GEMMs in bf16.
    private final NativeBuffer params;
    private final NativeBuffer paramsBf16;
    private final NativeBuffer grads;
    private final ByteBuffer paramBytes;
    private final ByteBuffer paramBf16Bytes;
    private final FloatBuffer paramFloats;
    private final FloatBuffer gradFloats;
    private final Map<String, Integer> offsets;
    private final Parameter wte;          // [V, d]
    private final Parameter wpe;          // [T, d], learned positions only
    private final Parameter lnFGain;      // [d]
    private final Parameter lnFBias;      // [d]

    // Activations: one set per layer where the backward pass reads them.
    private final Rows embedded;          // x₀ [N, d], the residual stream entering layer 0
    private final Layer[] layers;
    private final Rows lnF;               // [N, d] final LayerNorm output
    private final Stats lnFStats;
    private final Rows logits;            // [N, V]
    private final Rows dLogits;           // [N, V]
    private final ByteBuffer positionTable; // [T, d] sinusoids, or null
    private final ByteBuffer ropeCos;     // [T, dh/2] or null
    private final ByteBuffer ropeSin;     // [T, dh/2] or null
    private final float[] alibiSlopes;    // [H] or null

    // Backward scratch, shared by all layers.
    private final Rows dResidual;         // [N, d] gradient of the residual stream
    private final Rows dNormed;           // [N, d] gradient of a LayerNorm's output
    private final Rows dAttended;         // [N, d] gradient of the attention output before its projection
    private final Rows dQkv;              // [N, 3d]
    private final Rows dGelu;             // [N, F] gradient of the GELU output
    private final Rows dHidden;           // [N, F] gradient of the GELU input
    private final NativeBuffer dProbs;    // [B, H, T, T] gradient of the probabilities, then of the scores
    private final ByteBuffer dProbBytes;
    private final NativeBuffer dScores;   // [B, H, T, T] the scores' gradient as the GEMMs read it (bf16 copy)
    private final ByteBuffer dScoreBytes;
    private final NativeBuffer headsOut;  // [B, H, T, dh] fp32: p·v, dv, dq or dk before it goes back into rows
    private final NativeBuffer dHeads;    // [B, H, T, dh] the attention output's gradient split into heads

    private final Plan[] plans;           // by number of sequences, made on first use

    /**
     * @param offsets      each parameter's offset in the flat vector, by its {@link Gpt} name
     * @param maxSequences the most sequences one call will get
     */
    public FusedGpt(Gpt.Config config, Map<String, Integer> offsets, int parameterCount, int maxSequences, boolean bf16,
                    Kernels kernels) {
        if (config.dropout() > 0) {
            throw new IllegalArgumentException("the fused GPT has no dropout; train models with dropout on SameDiff");
        }
        this.config = config;
        this.bf16 = bf16;
        this.kernels = kernels;
        this.maxSequences = maxSequences;
        this.t = config.blockSize();
        this.d = config.width();
        this.heads = config.heads();
        this.dh = d / heads;
        this.v = config.vocabSize();
        this.parameterCount = parameterCount;
        this.offsets = Map.copyOf(offsets);
        int n = maxSequences * t;

        params = NativeBuffer.allocate(parameterCount, ElementType.F32);
        grads = NativeBuffer.allocate(parameterCount, ElementType.F32);
        paramsBf16 = bf16 ? NativeBuffer.allocate(parameterCount, ElementType.BF16) : null;
        paramBytes = params.bytes();
        paramBf16Bytes = bf16 ? paramsBf16.bytes() : null;
        paramFloats = paramBytes.asFloatBuffer();
        gradFloats = grads.bytes().asFloatBuffer();

        wte = parameter("wte");
        wpe = config.positions() == PositionType.LEARNED ? parameter("wpe") : null;
        lnFGain = parameter("ln_f/gain");
        lnFBias = parameter("ln_f/bias");
        embedded = new Rows(n, d, false);
        layers = new Layer[config.layers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer(l, n);
        }
        lnF = new Rows(n, d, bf16);
        lnFStats = new Stats(n);
        logits = new Rows(n, v, false);
        dLogits = new Rows(n, v, bf16);

        positionTable = config.positions() == PositionType.SINUSOIDAL
                ? table(SinusoidalPositions.table(t, d)) : null;
        if (config.positions() == PositionType.ROPE) {
            float[][] cos = RotaryPositions.angles(t, dh, false);
            float[][] sin = RotaryPositions.angles(t, dh, true);
            ropeCos = table(halves(cos));
            ropeSin = table(halves(sin));
        } else {
            ropeCos = null;
            ropeSin = null;
        }
        if (config.positions() == PositionType.ALIBI) {
            double[] slopes = AlibiBias.slopes(heads);
            alibiSlopes = new float[heads];
            for (int h = 0; h < heads; h++) {
                alibiSlopes[h] = (float) slopes[h];
            }
        } else {
            alibiSlopes = null;
        }

        dResidual = new Rows(n, d, bf16);
        dNormed = new Rows(n, d, false);
        dAttended = new Rows(n, d, false);
        dQkv = new Rows(n, 3 * d, bf16);
        dGelu = new Rows(n, 4 * d, false);
        dHidden = new Rows(n, 4 * d, bf16);
        dProbs = NativeBuffer.allocate((long) maxSequences * heads * t * t, ElementType.F32);
        dProbBytes = dProbs.bytes();
        dScores = bf16 ? NativeBuffer.allocate((long) maxSequences * heads * t * t, ElementType.BF16) : dProbs;
        dScoreBytes = dScores.bytes();
        headsOut = NativeBuffer.allocate((long) n * d, ElementType.F32);
        dHeads = NativeBuffer.allocate((long) n * d, attentionType());
        plans = new Plan[maxSequences + 1];
    }

    public Gpt.Config config() {
        return config;
    }

    @Override
    public Kernels kernels() {
        return kernels;
    }

    @Override
    public boolean isBf16() {
        return bf16;
    }

    /** Copies the fp32 master parameters in (and rounds the bf16 copy): once per optimizer step. */
    @Override
    public void setParameters(float[] flat) {
        paramFloats.put(0, flat, 0, parameterCount);
        if (bf16) {
            kernels.toBf16(paramBytes, paramBf16Bytes, parameterCount);
        }
    }

    /**
     * Forward and backward over {@code sequences} sequences: the gradient of gradScale × (mean cross-entropy over
     * the targets ≥ 0) lands in {@link #addGradients}'s buffer.
     *
     * @param tokens, targets [.., T] row-major; this call reads sequences [first, first + sequences)
     * @return the mean cross-entropy (0 when every target is ignored)
     */
    public double trainStep(int[] tokens, int[] targets, int first, int sequences, float gradScale) {
        Plan plan = plan(sequences);
        int offset = first * t;
        int n = sequences * t;
        int counted = countTargets(targets, offset, n);
        forward(plan, tokens, offset, n, true);
        double sum = kernels.crossEntropy(logits.bytes, targets, offset, dLogits.bytes, n, v,
                gradScale / Math.max(counted, 1));
        backward(plan, tokens, offset, n);
        return counted == 0 ? 0 : sum / counted;
    }

    @Override
    public double trainStep(Batch batch, int first, int sequences, float gradScale) {
        return trainStep(batch.ints(Gpt.TOKENS), batch.ints(Gpt.TARGETS), first, sequences, gradScale);
    }

    /** The summed cross-entropy and the count of targets ≥ 0 ({@link Gpt#metrics}). */
    @Override
    public double[] evaluate(Batch batch, int first, int sequences) {
        int[] targets = batch.ints(Gpt.TARGETS);
        int counted = countTargets(targets, first * t, sequences * t);
        return new double[] {loss(batch.ints(Gpt.TOKENS), targets, first, sequences) * counted, counted};
    }

    /** The mean cross-entropy without gradients (evaluation). */
    public double loss(int[] tokens, int[] targets, int first, int sequences) {
        Plan plan = plan(sequences);
        int offset = first * t;
        int n = sequences * t;
        int counted = countTargets(targets, offset, n);
        forward(plan, tokens, offset, n, false);
        double sum = kernels.crossEntropyLoss(logits.bytes, targets, offset, n, v);
        return counted == 0 ? 0 : sum / counted;
    }

    /** {@code into[i] += gradient[i]}: the gradient of the last {@link #trainStep}, in the flat layout. */
    @Override
    public void addGradients(float[] into) {
        for (int i = 0; i < parameterCount; i++) {
            into[i] += gradFloats.get(i);
        }
    }

    /** The attention probabilities [B, H, T, T] of {@code layer} from the last forward pass (for maps). */
    public float[] attentionMap(int layer, int sequences) {
        float[] map = new float[sequences * heads * t * t];
        layers[layer].probBytes.asFloatBuffer().get(0, map);
        return map;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Forward

    private void forward(Plan plan, int[] tokens, int offset, int n, boolean training) {
        boolean sinusoidal = positionTable != null;
        ByteBuffer positions = wpe != null ? wpe.value : positionTable;
        kernels.embed(tokens, offset, wte.value, sinusoidal ? (float) Math.sqrt(d) : 1f, positions,
                embedded.bytes, n, t, d);                                                     // x₀ [N, d]
        Rows x = embedded;
        for (Layer layer : layers) {
            layer.forward(plan, x, n, training);
            x = layer.output;
        }
        kernels.layerNorm(x.bytes, lnFGain.value, lnFBias.value, lnF.bytes, lnFStats.mean,
                lnFStats.rstd, n, d, LAYER_NORM_EPS);                                          // [N, d]
        lnF.roundToBf16(n);
        plan.head.run();                                                                      // logits [N, V]
    }

    /** One pre-LN block's saved activations, and its forward and backward passes. */
    private final class Layer {
        final int index;
        final String name;
        final Parameter ln1Gain;
        final Parameter ln1Bias;
        final Parameter bQkv;
        final Parameter bOut;
        final Parameter ln2Gain;
        final Parameter ln2Bias;
        final Parameter bFc;
        final Parameter bProj;
        final Rows ln1;           // [N, d]
        final Stats ln1Stats;
        final Rows qkv;           // [N, 3d]: q | k | v, each H heads of dh (after RoPE when it applies)
        final NativeBuffer queries; // [B, H, T, dh] q split into contiguous heads (in bf16 rounded to bf16)
        final NativeBuffer keys;    // [B, H, T, dh]
        final NativeBuffer values;  // [B, H, T, dh]
        final NativeBuffer probs; // [B, H, T, T]
        final ByteBuffer probBytes;
        final NativeBuffer probsForGemm; // [B, H, T, T] the probabilities as the GEMMs read them (bf16 copy)
        final ByteBuffer probsForGemmBytes;
        final Rows attended;      // [N, d] heads merged, before the output projection
        final Rows middle;        // [N, d] the residual stream after attention
        final Rows ln2;           // [N, d]
        final Stats ln2Stats;
        final Rows hidden;        // [N, F] before GELU
        final Rows activated;     // [N, F] after GELU
        final Rows geluSlope;     // [N, F] GELU's derivative at hidden, saved by a training forward pass
        final Rows output;        // [N, d] the residual stream leaving the block
        Rows input;               // [N, d] the residual stream entering the block (the previous output)

        Layer(int index, int n) {
            this.index = index;
            name = "h" + index;
            ln1Gain = parameter(name + "/ln_1/gain");
            ln1Bias = parameter(name + "/ln_1/bias");
            bQkv = parameter(name + "/attn/b_qkv");
            bOut = parameter(name + "/attn/b_out");
            ln2Gain = parameter(name + "/ln_2/gain");
            ln2Bias = parameter(name + "/ln_2/bias");
            bFc = parameter(name + "/mlp/b_fc");
            bProj = parameter(name + "/mlp/b_proj");
            ln1 = new Rows(n, d, bf16);
            ln1Stats = new Stats(n);
            qkv = new Rows(n, 3 * d, false);
            queries = NativeBuffer.allocate((long) n * d, attentionType());
            keys = NativeBuffer.allocate((long) n * d, attentionType());
            values = NativeBuffer.allocate((long) n * d, attentionType());
            probs = NativeBuffer.allocate((long) maxSequences * heads * t * t, ElementType.F32);
            probBytes = probs.bytes();
            probsForGemm = bf16 ? NativeBuffer.allocate((long) maxSequences * heads * t * t, ElementType.BF16) : probs;
            probsForGemmBytes = probsForGemm.bytes();
            attended = new Rows(n, d, bf16);
            middle = new Rows(n, d, false);
            ln2 = new Rows(n, d, bf16);
            ln2Stats = new Stats(n);
            hidden = new Rows(n, 4 * d, false);
            activated = new Rows(n, 4 * d, bf16);
            geluSlope = new Rows(n, 4 * d, false);
            output = new Rows(n, d, false);
        }

        void forward(Plan plan, Rows x, int n, boolean training) {
            input = x;
            LayerPlan p = plan.layers[index];
            int groups = n / t * heads;
            kernels.layerNorm(x.bytes, ln1Gain.value, ln1Bias.value, ln1.bytes,
                    ln1Stats.mean, ln1Stats.rstd, n, d, LAYER_NORM_EPS);                      // [N, d]
            ln1.roundToBf16(n);
            p.qkv.run();                                                                      // [N, 3d]
            if (ropeCos != null) {
                kernels.rope(qkv.bytes, n, t, heads, dh, ropeCos, ropeSin, false);            // q, k rotated
            }
            AttentionPlan a = p.attention;
            a.splitQ.run();                                                                   // [B, H, T, dh]
            a.splitK.run();                                                                   // [B, H, T, dh]
            a.splitV.run();                                                                   // [B, H, T, dh]
            a.scores.run();                                                                   // q·kᵀ [B, H, T, T]
            kernels.causalSoftmax(probBytes, groups, t, heads, (float) (1 / Math.sqrt(dh)), alibiSlopes);
            if (bf16) {
                kernels.toBf16(probBytes, probsForGemmBytes, groups * t * t);
            }
            a.values.run();                                                                   // p·v [B, H, T, dh]
            a.merge.run();                                                                    // heads → [N, d]
            attended.roundToBf16(n);
            p.out.run();                                                                      // [N, d] projected
            kernels.add(x.bytes, middle.bytes, middle.bytes, n * d);                         // residual

            kernels.layerNorm(middle.bytes, ln2Gain.value, ln2Bias.value, ln2.bytes,
                    ln2Stats.mean, ln2Stats.rstd, n, d, LAYER_NORM_EPS);                      // [N, d]
            ln2.roundToBf16(n);
            p.fc.run();                                                                       // [N, F]
            kernels.gelu(hidden.bytes, activated.bytes, training ? geluSlope.bytes : null, n * 4 * d); // [N, F]
            activated.roundToBf16(n);
            p.proj.run();                                                                     // [N, d]
            kernels.add(middle.bytes, output.bytes, output.bytes, n * d);                    // residual
        }

        /** Takes dResidual = ∂L/∂output and leaves ∂L/∂input in it. */
        void backward(Plan plan, int n) {
            LayerPlan p = plan.layers[index];
            int groups = n / t * heads;
            // MLP: output = middle + GELU(ln₂(middle)·W_fc + b_fc)·W_proj + b_proj
            dResidual.roundToBf16(n);
            p.dProjWeight.run();                                                              // ∂W_proj = actᵀ·dOut
            kernels.columnSums(dResidual.bytes, bProj.gradient, n, d);
            p.dActivated.run();                                                               // dAct = dOut·W_projᵀ
            kernels.geluBackward(dGelu.bytes, geluSlope.bytes, dHidden.bytes, n * 4 * d);     // dHidden [N, F]
            dHidden.roundToBf16(n);
            p.dFcWeight.run();                                                                // ∂W_fc = ln₂ᵀ·dHidden
            kernels.columnSums(dHidden.bytes, bFc.gradient, n, 4 * d);
            p.dLn2.run();                                                                     // dLn₂ = dHidden·W_fcᵀ
            kernels.layerNormBackward(dNormed.bytes, middle.bytes, ln2Gain.value, ln2Stats.mean,
                    ln2Stats.rstd, dResidual.bytes, ln2Gain.gradient, ln2Bias.gradient, n, d);

            // Attention: middle = input + attend(ln₁(input))·W_out + b_out
            dResidual.roundToBf16(n);
            p.dOutWeight.run();                                                               // ∂W_out = attᵀ·dMid
            kernels.columnSums(dResidual.bytes, bOut.gradient, n, d);
            p.dAttended.run();                                                                // dAtt = dMid·W_outᵀ
            AttentionPlan a = p.attention;
            a.splitDy.run();                                                                  // dY [B, H, T, dh]
            a.dProbs.run();                                                                   // dP = dY·vᵀ
            a.dValues.run();                                                                  // dv = Pᵀ·dY
            a.mergeDv.run();                                                                  // → dQkv's v
            kernels.causalSoftmaxBackward(probBytes, dProbBytes, groups, t, (float) (1 / Math.sqrt(dh)));
            if (bf16) {
                kernels.toBf16(dProbBytes, dScoreBytes, groups * t * t);
            }
            a.dQueries.run();                                                                 // dq = dS·k
            a.mergeDq.run();                                                                  // → dQkv's q
            a.dKeys.run();                                                                    // dk = dSᵀ·q
            a.mergeDk.run();                                                                  // → dQkv's k
            if (ropeCos != null) {
                kernels.rope(dQkv.bytes, n, t, heads, dh, ropeCos, ropeSin, true);            // back to unrotated
            }
            dQkv.roundToBf16(n);
            p.dQkvWeight.run();                                                               // ∂W_qkv = ln₁ᵀ·dQkv
            kernels.columnSums(dQkv.bytes, bQkv.gradient, n, 3 * d);
            p.dLn1.run();                                                                     // dLn₁ = dQkv·W_qkvᵀ
            kernels.layerNormBackward(dNormed.bytes, input.bytes, ln1Gain.value, ln1Stats.mean,
                    ln1Stats.rstd, dResidual.bytes, ln1Gain.gradient, ln1Bias.gradient, n, d);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Backward

    private void backward(Plan plan, int[] tokens, int offset, int n) {
        // LM head, tied to wte: logits = ln_f·wteᵀ
        dLogits.roundToBf16(n);
        plan.dHeadWeight.run();                                                               // ∂wte = dLogitsᵀ·ln_f
        plan.dHead.run();                                                                     // dLn_f = dLogits·wte
        kernels.zero(dResidual.bytes, n * d);
        kernels.layerNormBackward(dNormed.bytes, layers[layers.length - 1].output.bytes, lnFGain.value,
                lnFStats.mean, lnFStats.rstd, dResidual.bytes, lnFGain.gradient, lnFBias.gradient, n, d);
        for (int l = layers.length - 1; l >= 0; l--) {
            layers[l].backward(plan, n);
        }
        boolean sinusoidal = positionTable != null;
        kernels.embedBackward(tokens, offset, dResidual.bytes, sinusoidal ? (float) Math.sqrt(d) : 1f, wte.gradient,
                wpe != null ? wpe.gradient : null, n, t, d);
    }

    // ---------------------------------------------------------------------------------------------------------
    // GEMM plans: every matmul of a step, bound to its buffers for a given number of sequences.

    private record LayerPlan(Matmul qkv, AttentionPlan attention, Matmul out, Matmul fc, Matmul proj,
                             Matmul dProjWeight, Matmul dActivated, Matmul dFcWeight, Matmul dLn2,
                             Matmul dOutWeight, Matmul dAttended, Matmul dQkvWeight, Matmul dLn1) {}

    /**
     * The attention products of a block on contiguous heads: oneDNN's blocked kernels run them faster than its
     * gemm kernel on heads strided inside the qkv rows, and the reorders that split and merge (rounding to bf16 on
     * the way in, in bf16) cost ~10 µs each.
     */
    private record AttentionPlan(Reorder splitQ, Reorder splitK, Reorder splitV, Matmul scores, Matmul values,
                                 Reorder merge, Reorder splitDy, Matmul dProbs, Matmul dValues, Reorder mergeDv,
                                 Matmul dQueries, Reorder mergeDq, Matmul dKeys, Reorder mergeDk) {}

    private record Plan(LayerPlan[] layers, Matmul head, Matmul dHeadWeight, Matmul dHead) {}

    private Plan plan(int sequences) {
        if (sequences < 1 || sequences > maxSequences) {
            throw new IllegalArgumentException("1 to " + maxSequences + " sequences per call, got " + sequences);
        }
        if (plans[sequences] == null) {
            plans[sequences] = createPlan(sequences);
        }
        return plans[sequences];
    }

    private Plan createPlan(int b) {
        int n = b * t;
        LayerPlan[] layerPlans = new LayerPlan[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Layer layer = layers[l];
            String name = layer.name;
            View wQkv = weight(name + "/attn/w_qkv", d, 3 * d);
            View wOut = weight(name + "/attn/w_out", d, d);
            View wFc = weight(name + "/mlp/w_fc", d, 4 * d);
            View wProj = weight(name + "/mlp/w_proj", 4 * d, d);
            layerPlans[l] = new LayerPlan(
                    Matmul.of(layer.ln1.gemm(n), wQkv, bias(name + "/attn/b_qkv", 3 * d), layer.qkv.matrix(n), false),
                    attentionPlan(layer, b),
                    Matmul.of(layer.attended.gemm(n), wOut, bias(name + "/attn/b_out", d), layer.middle.matrix(n),
                            false),
                    Matmul.of(layer.ln2.gemm(n), wFc, bias(name + "/mlp/b_fc", 4 * d), layer.hidden.matrix(n), false),
                    Matmul.of(layer.activated.gemm(n), wProj, bias(name + "/mlp/b_proj", d), layer.output.matrix(n),
                            false),
                    Matmul.of(layer.activated.gemm(n).transposed(), dResidual.gemm(n), null,
                            gradient(name + "/mlp/w_proj", 4 * d, d), false),
                    Matmul.of(dResidual.gemm(n), wProj.transposed(), null, dGelu.matrix(n), false),
                    Matmul.of(layer.ln2.gemm(n).transposed(), dHidden.gemm(n), null,
                            gradient(name + "/mlp/w_fc", d, 4 * d), false),
                    Matmul.of(dHidden.gemm(n), wFc.transposed(), null, dNormed.matrix(n), false),
                    Matmul.of(layer.attended.gemm(n).transposed(), dResidual.gemm(n), null,
                            gradient(name + "/attn/w_out", d, d), false),
                    Matmul.of(dResidual.gemm(n), wOut.transposed(), null, dAttended.matrix(n), false),
                    Matmul.of(layer.ln1.gemm(n).transposed(), dQkv.gemm(n), null,
                            gradient(name + "/attn/w_qkv", d, 3 * d), false),
                    Matmul.of(dQkv.gemm(n), wQkv.transposed(), null, dNormed.matrix(n), false));
        }
        View wte = weight("wte", v, d);
        return new Plan(layerPlans,
                Matmul.of(lnF.gemm(n), wte.transposed(), null, logits.matrix(n), false),
                Matmul.of(dLogits.gemm(n).transposed(), lnF.gemm(n), null, gradient("wte", v, d), false),
                Matmul.of(dLogits.gemm(n), wte, null, dNormed.matrix(n), false));
    }

    private AttentionPlan attentionPlan(Layer layer, int b) {
        View q = View.contiguous(layer.queries, 0, b, heads, t, dh);
        View k = View.contiguous(layer.keys, 0, b, heads, t, dh);
        View v = View.contiguous(layer.values, 0, b, heads, t, dh);
        View probs = View.contiguous(layer.probs, 0, b, heads, t, t);
        View probsForGemm = View.contiguous(layer.probsForGemm, 0, b, heads, t, t);
        View out = View.contiguous(headsOut, 0, b, heads, t, dh);
        View dY = View.contiguous(dHeads, 0, b, heads, t, dh);
        View dP = View.contiguous(dProbs, 0, b, heads, t, t);
        View dS = View.contiguous(dScores, 0, b, heads, t, t);
        return new AttentionPlan(
                Reorder.of(heads(layer.qkv.f32, 0, b, 3 * d), q),
                Reorder.of(heads(layer.qkv.f32, d, b, 3 * d), k),
                Reorder.of(heads(layer.qkv.f32, 2 * d, b, 3 * d), v),
                Matmul.of(q, k.transposed(), null, probs, false),
                Matmul.of(probsForGemm, v, null, out, false),
                Reorder.of(out, heads(layer.attended.f32, 0, b, d)),
                Reorder.of(heads(dAttended.f32, 0, b, d), dY),
                Matmul.of(dY, v.transposed(), null, dP, false),
                Matmul.of(probsForGemm.transposed(), dY, null, out, false),
                Reorder.of(out, heads(dQkv.f32, 2 * d, b, 3 * d)),
                Matmul.of(dS, k, null, out, false),
                Reorder.of(out, heads(dQkv.f32, 0, b, 3 * d)),
                Matmul.of(dS.transposed(), q, null, out, false),
                Reorder.of(out, heads(dQkv.f32, d, b, 3 * d)));
    }

    /** What the attention products multiply: bf16 in bf16, fp32 otherwise. */
    private ElementType attentionType() {
        return bf16 ? ElementType.BF16 : ElementType.F32;
    }

    /** [B, H, T, dh] heads inside rows of {@code width} columns, starting at column {@code column}. */
    private View heads(NativeBuffer rows, int column, int b, int width) {
        return new View(rows, column, new long[] {b, heads, t, dh},
                new long[] {(long) t * width, dh, width, 1});
    }

    private View weight(String name, int rows, int columns) {
        return View.matrix(bf16 ? paramsBf16 : params, offset(name), rows, columns);
    }

    private View bias(String name, int columns) {
        return View.matrix(params, offset(name), 1, columns);
    }

    private View gradient(String name, int rows, int columns) {
        return View.matrix(grads, offset(name), rows, columns);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Buffers

    /** Rows of activations [N, columns] in fp32, with a bf16 copy for the GEMMs when they run in bf16. */
    private final class Rows {
        final int columns;
        final NativeBuffer f32;
        final NativeBuffer bf16Copy;
        final ByteBuffer bytes;
        final ByteBuffer bf16Bytes;

        Rows(int rows, int columns, boolean withBf16) {
            this.columns = columns;
            f32 = NativeBuffer.allocate((long) rows * columns, ElementType.F32);
            bf16Copy = withBf16 ? NativeBuffer.allocate((long) rows * columns, ElementType.BF16) : null;
            bytes = f32.bytes();
            bf16Bytes = withBf16 ? bf16Copy.bytes() : null;
        }

        View matrix(int n) {
            return View.matrix(f32, 0, n, columns);
        }

        /** The operand a GEMM reads: the bf16 copy in bf16, the fp32 values otherwise. */
        View gemm(int n) {
            return View.matrix(bf16Copy != null ? bf16Copy : f32, 0, n, columns);
        }

        void roundToBf16(int n) {
            if (bf16Copy != null) {
                kernels.toBf16(bytes, bf16Bytes, n * columns);
            }
        }
    }

    /** A LayerNorm's saved row statistics. */
    private static final class Stats {
        final ByteBuffer mean;
        final ByteBuffer rstd;

        Stats(int rows) {
            mean = NativeBuffer.allocate(rows, ElementType.F32).bytes();
            rstd = NativeBuffer.allocate(rows, ElementType.F32).bytes();
        }
    }

    /** A parameter's values and gradient in the flat buffers, as views made once. */
    private record Parameter(ByteBuffer value, ByteBuffer gradient) {}

    private Parameter parameter(String name) {
        int offset = offset(name);
        int size = size(name);
        if (offset + size > parameterCount) {
            throw new IllegalArgumentException(name + " at " + offset + " (+" + size + ") lies outside the "
                    + parameterCount + " parameters");
        }
        return new Parameter(params.slice(offset, size), grads.slice(offset, size));
    }

    private int offset(String name) {
        Integer offset = offsets.get(name);
        if (offset == null) {
            throw new IllegalArgumentException("no parameter named " + name + " in the layout");
        }
        return offset;
    }

    /** A parameter's element count, from the model shape. */
    private int size(String name) {
        if (name.equals("wte")) {
            return v * d;
        }
        if (name.equals("wpe")) {
            return t * d;
        }
        if (name.endsWith("/w_qkv")) {
            return d * 3 * d;
        }
        if (name.endsWith("/b_qkv")) {
            return 3 * d;
        }
        if (name.endsWith("/w_out")) {
            return d * d;
        }
        if (name.endsWith("/w_fc")) {
            return d * 4 * d;
        }
        if (name.endsWith("/b_fc")) {
            return 4 * d;
        }
        if (name.endsWith("/w_proj")) {
            return 4 * d * d;
        }
        return d; // biases of width d, LayerNorm gains and biases
    }

    private ByteBuffer table(float[][] values) {
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

    private static int countTargets(int[] targets, int offset, int n) {
        int counted = 0;
        for (int i = offset; i < offset + n; i++) {
            if (targets[i] >= 0) {
                counted++;
            }
        }
        return counted;
    }
}
