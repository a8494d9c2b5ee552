package io.ringformer.zoo.gpt;

import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.attention.SinusoidalPositions;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.FusedModel;
import io.ringformer.zoo.fused.Activations;
import io.ringformer.zoo.fused.FusedBlocks;
import io.ringformer.zoo.fused.FusedParameters;
import io.ringformer.zoo.fused.Kernels;
import io.ringformer.zoo.fused.Matmul;
import io.ringformer.zoo.fused.View;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * The {@link Gpt}'s training step written out by hand: the same model, parameters and loss, with its forward and
 * backward passes as explicit GEMMs (oneDNN {@link Matmul}s bound once to pre-allocated memory) and element-wise
 * {@link Kernels} (the Java Vector API). The SameDiff graph stays the reference this class is tested against.
 *
 * <p>This file is GPT's own part: the token (+ position) embedding and the LM head (tied to the embedding, or not).
 * The blocks between them are the shared {@link FusedBlocks}, with causal attention. Every activation the backward
 * pass needs has a buffer of its own, allocated once for at most {@code maxSequences} sequences; a step allocates
 * nothing.
 *
 * <p>Notation: B sequences of T tokens make N = B·T rows; width d, vocabulary V. Rows are activations [N, ·],
 * row-major. In bf16 every GEMM multiplies bf16 copies of its operands with fp32 accumulation and fp32 results;
 * weights, gradients, LayerNorm, softmax, GELU and the loss stay fp32. Dropout is not supported here: such models
 * train on SameDiff.
 */
public final class FusedGpt implements FusedModel {

    private final Gpt.Config config;
    private final Kernels kernels;
    private final int maxSequences;
    private final int t;      // T
    private final int d;      // d
    private final int v;      // V
    private final FusedParameters parameters;
    private final FusedBlocks blocks;
    private final FusedParameters.Parameter wte;      // [V, d]
    private final FusedParameters.Parameter wpe;      // [T, d], learned positions only
    private final FusedParameters.Parameter lnFGain;  // [d]
    private final FusedParameters.Parameter lnFBias;  // [d]
    private final ByteBuffer positionTable;           // [T, d] sinusoids, or null

    private final Activations embedded;   // x₀ [N, d], the residual stream entering the blocks
    private final Activations lnF;        // [N, d] final LayerNorm output
    private final Activations.Stats lnFStats;
    private final Activations logits;     // [N, V]
    private final Activations dLogits;    // [N, V]
    private final Activations dNormed;    // [N, d] gradient of the final LayerNorm's output
    private final HeadPlan[] plans;       // by number of sequences, made on first use
    private final List<List<String>> layerParameters;   // by layer, for the backward pass's listener
    private final List<String> headParameters;          // the LM head's own matrix (untied) and ln_f
    private Consumer<List<String>> finished = names -> { };
    private final IntConsumer layerFinished;            // tells finished of a layer: made once, no allocation

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
        this.kernels = kernels;
        this.maxSequences = maxSequences;
        this.t = config.blockSize();
        this.d = config.width();
        this.v = config.vocabSize();
        int n = maxSequences * t;
        parameters = new FusedParameters(offsets, parameterCount, bf16, kernels);
        blocks = new FusedBlocks(new FusedBlocks.Shape(config.layers(), config.heads(), d, t, true,
                config.positions(), config.attention().fused()), parameters, maxSequences);
        wte = parameters.parameter("wte", v * d);
        wpe = config.positions() == PositionType.LEARNED ? parameters.parameter("wpe", t * d) : null;
        lnFGain = parameters.parameter("ln_f/gain", d);
        lnFBias = parameters.parameter("ln_f/bias", d);
        positionTable = config.positions() == PositionType.SINUSOIDAL
                ? FusedBlocks.table(SinusoidalPositions.table(t, d)) : null;
        embedded = new Activations(n, d, false, kernels);
        lnF = new Activations(n, d, bf16, kernels);
        lnFStats = new Activations.Stats(n);
        logits = new Activations(n, v, false, kernels);
        dLogits = new Activations(n, v, bf16, kernels);
        dNormed = new Activations(n, d, false, kernels);
        plans = new HeadPlan[maxSequences + 1];
        layerParameters = new ArrayList<>();
        for (int l = 0; l < config.layers(); l++) {
            layerParameters.add(FusedBlocks.layerParameters(l, offsets.keySet()));
        }
        headParameters = config.tiedHead() ? List.of("ln_f/gain", "ln_f/bias")
                : List.of(config.headWeight(), "ln_f/gain", "ln_f/bias");
        layerFinished = l -> finished.accept(layerParameters.get(l));
    }

    public Gpt.Config config() {
        return config;
    }

    @Override
    public FusedParameters parameters() {
        return parameters;
    }

    /**
     * Forward and backward over {@code sequences} sequences: the gradient of gradScale × (mean cross-entropy over
     * the targets ≥ 0) lands in {@link #addGradients}'s buffer.
     *
     * @param tokens, targets [.., T] row-major; this call reads sequences [first, first + sequences)
     * @return the mean cross-entropy (0 when every target is ignored)
     */
    public double trainStep(int[] tokens, int[] targets, int first, int sequences, float gradScale) {
        HeadPlan plan = plan(sequences);
        int offset = first * t;
        int n = sequences * t;
        int counted = countTargets(targets, offset, n);
        forward(plan, sequences, tokens, offset, true);
        double sum = kernels.crossEntropy(logits.bytes, targets, offset, dLogits.bytes, n, v,
                gradScale / Math.max(counted, 1));
        backward(plan, sequences, tokens, offset);
        return counted == 0 ? 0 : sum / counted;
    }

    @Override
    public double trainStep(Batch batch, int first, int sequences, float gradScale) {
        return trainStep(batch.ints(Gpt.TOKENS), batch.ints(Gpt.TARGETS), first, sequences, gradScale);
    }

    /** Tells {@code finished} the head's and ln_f's gradients, then each block's as it completes (the last first). */
    @Override
    public double trainStep(Batch batch, int first, int sequences, float gradScale,
                            Consumer<List<String>> finished) {
        this.finished = finished;
        try {
            return trainStep(batch, first, sequences, gradScale);
        } finally {
            this.finished = names -> { };
        }
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
        HeadPlan plan = plan(sequences);
        int offset = first * t;
        int n = sequences * t;
        int counted = countTargets(targets, offset, n);
        forward(plan, sequences, tokens, offset, false);
        double sum = kernels.crossEntropyLoss(logits.bytes, targets, offset, n, v);
        return counted == 0 ? 0 : sum / counted;
    }

    /** The attention probabilities [B, H, T, T] of {@code layer} from the last forward pass (for maps). */
    public float[] attentionMap(int layer, int sequences) {
        return blocks.attentionMap(layer, sequences);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Forward and backward

    private void forward(HeadPlan plan, int sequences, int[] tokens, int offset, boolean training) {
        int n = sequences * t;
        boolean sinusoidal = positionTable != null;
        ByteBuffer positions = wpe != null ? wpe.value() : positionTable;
        kernels.embed(tokens, offset, wte.value(), sinusoidal ? (float) Math.sqrt(d) : 1f, positions,
                embedded.bytes, n, t, d);                                                     // x₀ [N, d]
        Activations x = blocks.forward(sequences, embedded, null, training);                  // [N, d]
        kernels.layerNorm(x.bytes, lnFGain.value(), lnFBias.value(), lnF.bytes, lnFStats.mean,
                lnFStats.rstd, n, d, FusedBlocks.LAYER_NORM_EPS);                              // [N, d]
        lnF.roundToBf16(n);
        plan.head.run();                                                                      // logits [N, V]
    }

    private void backward(HeadPlan plan, int sequences, int[] tokens, int offset) {
        int n = sequences * t;
        // LM head: logits = ln_f·headᵀ (head = wte when tied)
        dLogits.roundToBf16(n);
        plan.dHeadWeight.run();                                                               // ∂head = dLogitsᵀ·ln_f
        plan.dHead.run();                                                                     // dLn_f = dLogits·head
        if (!config.tiedHead()) {
            kernels.zero(wte.gradient(), v * d);       // the embedding's backward pass adds into ∂wte
        }
        Activations dResidual = blocks.residualGradient();
        kernels.zero(dResidual.bytes, n * d);
        kernels.layerNormBackward(dNormed.bytes, blocks.output().bytes, lnFGain.value(), lnFStats.mean,
                lnFStats.rstd, dResidual.bytes, lnFGain.gradient(), lnFBias.gradient(), n, d);
        finished.accept(headParameters);                   // a tied head's ∂wte is complete only after the embedding
        blocks.backward(sequences, layerFinished);                                            // dResidual = ∂L/∂x₀
        boolean sinusoidal = positionTable != null;
        kernels.embedBackward(tokens, offset, dResidual.bytes, sinusoidal ? (float) Math.sqrt(d) : 1f,
                wte.gradient(), wpe != null ? wpe.gradient() : null, n, t, d);
    }

    /** The LM head's GEMMs, bound to its buffers for a given number of sequences. */
    private record HeadPlan(Matmul head, Matmul dHeadWeight, Matmul dHead) {}

    private HeadPlan plan(int sequences) {
        if (sequences < 1 || sequences > maxSequences) {
            throw new IllegalArgumentException("1 to " + maxSequences + " sequences per call, got " + sequences);
        }
        if (plans[sequences] == null) {
            int n = sequences * t;
            View table = parameters.weight(config.headWeight(), v, d);                       // [V, d]
            View dTable = parameters.gradient(config.headWeight(), v, d);
            plans[sequences] = new HeadPlan(
                    Matmul.of(lnF.gemm(n), table.transposed(), null, logits.matrix(n), false),
                    Matmul.of(dLogits.gemm(n).transposed(), lnF.gemm(n), null, dTable, false),
                    Matmul.of(dLogits.gemm(n), table, null, dNormed.matrix(n), false));
        }
        return plans[sequences];
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
