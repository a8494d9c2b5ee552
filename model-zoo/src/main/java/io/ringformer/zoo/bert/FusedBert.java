package io.ringformer.zoo.bert;

import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.FusedModel;
import io.ringformer.zoo.fused.Activations;
import io.ringformer.zoo.fused.FusedBlocks;
import io.ringformer.zoo.fused.FusedParameters;
import io.ringformer.zoo.fused.Kernels;
import io.ringformer.zoo.fused.Matmul;
import java.nio.FloatBuffer;
import java.util.Map;

/**
 * {@link Bert}'s training step written out by hand: the embeddings and both heads here, the shared
 * {@link FusedBlocks} between them with attention over each sequence's real keys (padding comes last in every row
 * {@link SentencePairs} makes). The SameDiff graph is the reference it is tested against.
 *
 * <p>Notation: B sequences of T tokens make N = B·T rows; width d, vocabulary V; M masked tokens in the call's
 * rows, in row-major order. The MLM head runs on the M masked rows only, as the graph's does. M changes from step
 * to step while a oneDNN GEMM is bound to its shapes, so the head's buffers hold M rounded up to a multiple of
 * {@value #MASKED_BUCKET} (a few GEMM plans serve every step): the extra rows are zero, have no target, and so
 * add nothing to the loss or any gradient.
 *
 * <p>The MLM weights (B / M of the global batch, {@link SentencePairs}) are one value for every masked token of a
 * batch; this step takes that value from the batch and refuses a batch whose weights differ. Dropout is not
 * supported here: such models train on SameDiff.
 */
public final class FusedBert implements FusedModel {

    /** The MLM head's rows are a multiple of this. */
    static final int MASKED_BUCKET = 64;

    private final Kernels kernels;
    private final int maxSequences;
    private final int maxMasked;
    private final int t;
    private final int d;
    private final int v;
    private final FusedParameters parameters;
    private final FusedBlocks blocks;
    private final FusedParameters.Parameter wte;        // [V, d]
    private final FusedParameters.Parameter wse;        // [2, d]
    private final FusedParameters.Parameter wpe;        // [T, d]
    private final FusedParameters.Parameter lnEmbGain;  // [d]
    private final FusedParameters.Parameter lnEmbBias;  // [d]
    private final FusedParameters.Parameter lnFGain;    // [d]
    private final FusedParameters.Parameter lnFBias;    // [d]
    private final FusedParameters.Parameter bDense;     // [d]
    private final FusedParameters.Parameter mlmLnGain;  // [d]
    private final FusedParameters.Parameter mlmLnBias;  // [d]
    private final FusedParameters.Parameter mlmBias;    // [V]
    private final FusedParameters.Parameter poolerBias; // [d]
    private final FusedParameters.Parameter nspBias;    // [2]

    private final Activations summed;       // [N, d] token + segment + position, LN_emb's input
    private final Activations.Stats summedStats;
    private final Activations embedded;     // [N, d] after LN_emb: the blocks' input
    private final Activations hidden;       // [N, d] after ln_f (the graph's "hidden")
    private final Activations.Stats hiddenStats;
    private final Activations chosen;       // [M, d] hidden at the masked positions
    private final Activations dense;        // [M, d] chosen·W_dense + b_dense
    private final Activations activated;    // [M, d] GELU(dense)
    private final Activations geluSlope;    // [M, d]
    private final Activations transformed;  // [M, d] mlm/ln(activated)
    private final Activations.Stats transformedStats;
    private final Activations logits;       // [M, V] transformed·wteᵀ + mlm/bias
    private final Activations dLogits;      // [M, V]
    private final Activations dTransformed; // [M, d]
    private final Activations dActivated;   // [M, d] ∂activated, then ∂dense in place
    private final Activations dChosen;      // [M, d]
    private final Activations cls;          // [B, d] hidden at [CLS]
    private final Activations pooled;       // [B, d] tanh(cls·W_pool + b_pool)
    private final Activations nspLogits;    // [B, 2]
    private final Activations dNsp;         // [B, 2]
    private final Activations dPooled;      // [B, d] ∂pooled, then ∂(its pre-activation) in place
    private final Activations dCls;         // [B, d]
    private final Activations dHidden;      // [N, d]
    private final Activations dSummed;      // [N, d]
    private final FloatBuffer summedRows;
    private final FloatBuffer hiddenRows;
    private final FloatBuffer chosenRows;
    private final FloatBuffer clsRows;
    private final FloatBuffer pooledRows;
    private final FloatBuffer dPooledRows;
    private final FloatBuffer dHiddenRows;
    private final FloatBuffer dChosenRows;
    private final FloatBuffer dClsRows;
    private final FloatBuffer dSummedRows;
    private final FloatBuffer segmentTable;
    private final FloatBuffer dSegmentTable;
    private final FloatBuffer logitRows;
    private final FloatBuffer nspLogitRows;

    private final int[] keys;        // real keys of each sequence of the current call
    private final int[] maskedRows;  // row (of the call's N) of each masked token
    private final int[] maskedIds;   // its target; −1 for the rows that only fill the bucket
    private final int[] nspLabels;   // the call's labels
    private final HeadPlan[] mlmPlans;  // by buckets of masked rows
    private final PoolerPlan[] nspPlans; // by sequences
    private int masked;              // M of the current call
    private int bucketRows;          // M rounded up
    private float mlmWeight;         // the batch's MLM weight

    public FusedBert(Bert.Config config, Map<String, Integer> offsets, int parameterCount, int maxSequences,
                     boolean bf16, Kernels kernels) {
        if (config.dropout() > 0) {
            throw new IllegalArgumentException("the fused BERT has no dropout; train models with dropout on SameDiff");
        }
        this.kernels = kernels;
        this.maxSequences = maxSequences;
        this.t = config.seqLen();
        this.d = config.width();
        this.v = config.vocabSize();
        int n = maxSequences * t;
        maxMasked = (n + MASKED_BUCKET - 1) / MASKED_BUCKET * MASKED_BUCKET;
        parameters = new FusedParameters(offsets, parameterCount, bf16, kernels);
        blocks = new FusedBlocks(new FusedBlocks.Shape(config.layers(), config.heads(), d, t, false,
                PositionType.LEARNED, config.attention().fused()), parameters, maxSequences);
        wte = parameters.parameter("wte", v * d);
        wse = parameters.parameter("wse", 2 * d);
        wpe = parameters.parameter("wpe", t * d);
        lnEmbGain = parameters.parameter("ln_emb/gain", d);
        lnEmbBias = parameters.parameter("ln_emb/bias", d);
        lnFGain = parameters.parameter("ln_f/gain", d);
        lnFBias = parameters.parameter("ln_f/bias", d);
        bDense = parameters.parameter("mlm/b_dense", d);
        mlmLnGain = parameters.parameter("mlm/ln/gain", d);
        mlmLnBias = parameters.parameter("mlm/ln/bias", d);
        mlmBias = parameters.parameter("mlm/bias", v);
        poolerBias = parameters.parameter("pooler/b", d);
        nspBias = parameters.parameter("nsp/b", 2);

        summed = new Activations(n, d, false, kernels);
        summedStats = new Activations.Stats(n);
        embedded = new Activations(n, d, false, kernels);
        hidden = new Activations(n, d, false, kernels);
        hiddenStats = new Activations.Stats(n);
        chosen = new Activations(maxMasked, d, bf16, kernels);
        dense = new Activations(maxMasked, d, false, kernels);
        activated = new Activations(maxMasked, d, false, kernels);
        geluSlope = new Activations(maxMasked, d, false, kernels);
        transformed = new Activations(maxMasked, d, bf16, kernels);
        transformedStats = new Activations.Stats(maxMasked);
        logits = new Activations(maxMasked, v, false, kernels);
        dLogits = new Activations(maxMasked, v, bf16, kernels);
        dTransformed = new Activations(maxMasked, d, false, kernels);
        dActivated = new Activations(maxMasked, d, bf16, kernels);
        dChosen = new Activations(maxMasked, d, false, kernels);
        cls = new Activations(maxSequences, d, bf16, kernels);
        pooled = new Activations(maxSequences, d, bf16, kernels);
        nspLogits = new Activations(maxSequences, 2, false, kernels);
        dNsp = new Activations(maxSequences, 2, bf16, kernels);
        dPooled = new Activations(maxSequences, d, bf16, kernels);
        dCls = new Activations(maxSequences, d, false, kernels);
        dHidden = new Activations(n, d, false, kernels);
        dSummed = new Activations(n, d, false, kernels);
        summedRows = summed.bytes.asFloatBuffer();
        hiddenRows = hidden.bytes.asFloatBuffer();
        chosenRows = chosen.bytes.asFloatBuffer();
        clsRows = cls.bytes.asFloatBuffer();
        pooledRows = pooled.bytes.asFloatBuffer();
        dPooledRows = dPooled.bytes.asFloatBuffer();
        dHiddenRows = dHidden.bytes.asFloatBuffer();
        dChosenRows = dChosen.bytes.asFloatBuffer();
        dClsRows = dCls.bytes.asFloatBuffer();
        dSummedRows = dSummed.bytes.asFloatBuffer();
        segmentTable = wse.value().asFloatBuffer();
        dSegmentTable = wse.gradient().asFloatBuffer();
        logitRows = logits.bytes.asFloatBuffer();
        nspLogitRows = nspLogits.bytes.asFloatBuffer();

        keys = new int[maxSequences];
        maskedRows = new int[maxMasked];
        maskedIds = new int[maxMasked];
        nspLabels = new int[maxSequences];
        mlmPlans = new HeadPlan[maxMasked / MASKED_BUCKET + 1];
        nspPlans = new PoolerPlan[maxSequences + 1];
    }

    @Override
    public FusedParameters parameters() {
        return parameters;
    }

    /** Forward and backward over rows [first, first + count): the gradient of gradScale × {@link Bert#LOSS}. */
    @Override
    public double trainStep(Batch batch, int first, int count, float gradScale) {
        forward(batch, first, count, true);
        double mlm = kernels.crossEntropy(logits.bytes, maskedIds, 0, dLogits.bytes, bucketRows, v,
                gradScale * mlmWeight / count);
        double nsp = kernels.crossEntropy(nspLogits.bytes, nspLabels, 0, dNsp.bytes, count, 2, gradScale / count);
        backward(batch, first, count);
        return (mlmWeight * mlm + nsp) / count;
    }

    /** loss_sum, rows, mlm_loss_sum, masked, mlm_correct, masked, nsp_correct, rows ({@link Bert#metrics}). */
    @Override
    public double[] evaluate(Batch batch, int first, int count) {
        forward(batch, first, count, false);
        double mlm = kernels.crossEntropyLoss(logits.bytes, maskedIds, 0, bucketRows, v);
        double nsp = kernels.crossEntropyLoss(nspLogits.bytes, nspLabels, 0, count, 2);
        int mlmCorrect = 0;
        for (int m = 0; m < masked; m++) {
            mlmCorrect += isLargest(logitRows, m, v, maskedIds[m]) ? 1 : 0;
        }
        int nspCorrect = 0;
        for (int b = 0; b < count; b++) {
            nspCorrect += isLargest(nspLogitRows, b, 2, nspLabels[b]) ? 1 : 0;
        }
        return new double[] {mlmWeight * mlm + nsp, count, mlm, masked, mlmCorrect, masked, nspCorrect, count};
    }

    /** Whether row {@code row}'s entry {@code target} is its largest (a tie counts, as in the graph). */
    private static boolean isLargest(FloatBuffer rows, int row, int width, int target) {
        float value = rows.get(row * width + target);
        for (int k = 0; k < width; k++) {
            if (rows.get(row * width + k) > value) {
                return false;
            }
        }
        return true;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Forward and backward

    private void forward(Batch batch, int first, int count, boolean training) {
        if (count < 1 || count > maxSequences) {
            throw new IllegalArgumentException("1 to " + maxSequences + " sequences per call, got " + count);
        }
        int n = count * t;
        readBatch(batch, first, count);
        HeadPlan mlm = mlmPlan(bucketRows);
        PoolerPlan nsp = nspPlan(count);

        // Embeddings: token + position, then segment, then LN_emb.
        int[] segments = batch.ints(Bert.SEGMENTS);
        kernels.embed(batch.ints(Bert.TOKENS), first * t, wte.value(), 1f, wpe.value(), summed.bytes, n, t, d);
        for (int r = 0; r < n; r++) {
            int segment = segments[first * t + r];
            for (int k = 0; k < d; k++) {
                summedRows.put(r * d + k, summedRows.get(r * d + k) + segmentTable.get(segment * d + k)); // + wse
            }
        }
        kernels.layerNorm(summed.bytes, lnEmbGain.value(), lnEmbBias.value(), embedded.bytes, summedStats.mean,
                summedStats.rstd, n, d, FusedBlocks.LAYER_NORM_EPS);                         // [N, d]

        Activations out = blocks.forward(count, embedded, keys, training);                    // [N, d]
        kernels.layerNorm(out.bytes, lnFGain.value(), lnFBias.value(), hidden.bytes, hiddenStats.mean,
                hiddenStats.rstd, n, d, FusedBlocks.LAYER_NORM_EPS);                         // [N, d]

        // MLM head on the masked rows: dense, GELU, LayerNorm, then the tied embedding and the output bias.
        kernels.zero(chosen.bytes, bucketRows * d);
        for (int m = 0; m < masked; m++) {
            chosenRows.put(m * d, hiddenRows, maskedRows[m] * d, d);                          // [M, d]
        }
        chosen.roundToBf16(bucketRows);
        mlm.dense.run();                                                                      // [M, d]
        kernels.gelu(dense.bytes, activated.bytes, training ? geluSlope.bytes : null, bucketRows * d);
        kernels.layerNorm(activated.bytes, mlmLnGain.value(), mlmLnBias.value(), transformed.bytes,
                transformedStats.mean, transformedStats.rstd, bucketRows, d, FusedBlocks.LAYER_NORM_EPS);
        transformed.roundToBf16(bucketRows);
        mlm.tied.run();                                                                       // [M, V]

        // NSP head on [CLS]: the pooler (dense, tanh), then two classes.
        for (int b = 0; b < count; b++) {
            clsRows.put(b * d, hiddenRows, b * t * d, d);                                     // [B, d]
        }
        cls.roundToBf16(count);
        nsp.pooler.run();                                                                     // [B, d]
        for (int i = 0; i < count * d; i++) {
            pooledRows.put(i, (float) Math.tanh(pooledRows.get(i)));
        }
        pooled.roundToBf16(count);
        nsp.classify.run();                                                                   // [B, 2]
    }

    /** The call's real keys, masked rows and their targets, labels and the batch's MLM weight. */
    private void readBatch(Batch batch, int first, int count) {
        float[] mask = batch.floats(Bert.MASK);
        int[] targets = batch.ints(Bert.MLM_TARGETS);
        float[] weights = batch.floats(Bert.MLM_WEIGHTS);
        masked = 0;
        mlmWeight = 0;
        for (int b = 0; b < count; b++) {
            int from = (first + b) * t;
            int real = 0;
            while (real < t && mask[from + real] != 0) {
                real++;
            }
            for (int s = real; s < t; s++) {
                if (mask[from + s] != 0) {
                    throw new IllegalArgumentException("row " + (first + b) + " has a real token after padding; "
                            + "the fused BERT step needs the padding last");
                }
            }
            keys[b] = real;
            for (int s = 0; s < t; s++) {
                if (targets[from + s] >= 0) {
                    if (masked > 0 && weights[from + s] != mlmWeight) {
                        throw new IllegalArgumentException("the MLM weights of a batch differ (" + mlmWeight + ", "
                                + weights[from + s] + "); the fused BERT step takes one weight for every masked token");
                    }
                    mlmWeight = weights[from + s];
                    maskedRows[masked] = b * t + s;
                    maskedIds[masked++] = targets[from + s];
                }
            }
        }
        bucketRows = Math.max(1, (masked + MASKED_BUCKET - 1) / MASKED_BUCKET) * MASKED_BUCKET;
        java.util.Arrays.fill(maskedIds, masked, bucketRows, -1);
        System.arraycopy(batch.ints(Bert.NSP_LABEL), first, nspLabels, 0, count);
    }

    private void backward(Batch batch, int first, int count) {
        int n = count * t;
        HeadPlan mlm = mlmPlan(bucketRows);
        PoolerPlan nsp = nspPlan(count);

        // MLM head, backwards: the tied product writes ∂wte first (the embedding adds its part at the end).
        dLogits.roundToBf16(bucketRows);
        mlm.dTiedWeight.run();                                                                // ∂wte = dLogitsᵀ·tr
        kernels.columnSums(dLogits.bytes, mlmBias.gradient(), bucketRows, v);
        mlm.dTied.run();                                                                      // dTr = dLogits·wte
        kernels.zero(dActivated.bytes, bucketRows * d);
        kernels.layerNormBackward(dTransformed.bytes, activated.bytes, mlmLnGain.value(), transformedStats.mean,
                transformedStats.rstd, dActivated.bytes, mlmLnGain.gradient(), mlmLnBias.gradient(), bucketRows, d);
        kernels.geluBackward(dActivated.bytes, geluSlope.bytes, dActivated.bytes, bucketRows * d);  // ∂dense
        dActivated.roundToBf16(bucketRows);
        mlm.dDenseWeight.run();                                                               // ∂W = chosenᵀ·∂dense
        kernels.columnSums(dActivated.bytes, bDense.gradient(), bucketRows, d);
        mlm.dDense.run();                                                                     // dChosen

        // NSP head, backwards.
        dNsp.roundToBf16(count);
        nsp.dClassifyWeight.run();                                                            // ∂W_nsp
        kernels.columnSums(dNsp.bytes, nspBias.gradient(), count, 2);
        nsp.dClassify.run();                                                                  // ∂pooled
        for (int i = 0; i < count * d; i++) {
            float y = pooledRows.get(i);
            dPooledRows.put(i, dPooledRows.get(i) * (1 - y * y));                            // tanh' = 1 − y²
        }
        dPooled.roundToBf16(count);
        nsp.dPoolerWeight.run();                                                              // ∂W_pool
        kernels.columnSums(dPooled.bytes, poolerBias.gradient(), count, d);
        nsp.dPooler.run();                                                                    // dCls

        // Both heads' gradients into the rows they read, then ln_f, the blocks and LN_emb backwards.
        kernels.zero(dHidden.bytes, n * d);
        for (int m = 0; m < masked; m++) {
            dHiddenRows.put(maskedRows[m] * d, dChosenRows, m * d, d);                       // distinct rows
        }
        for (int b = 0; b < count; b++) {
            for (int k = 0; k < d; k++) {
                int at = b * t * d + k;
                dHiddenRows.put(at, dHiddenRows.get(at) + dClsRows.get(b * d + k));          // [CLS] is never masked
            }
        }
        Activations dResidual = blocks.residualGradient();
        kernels.zero(dResidual.bytes, n * d);
        kernels.layerNormBackward(dHidden.bytes, blocks.output().bytes, lnFGain.value(), hiddenStats.mean,
                hiddenStats.rstd, dResidual.bytes, lnFGain.gradient(), lnFBias.gradient(), n, d);
        blocks.backward(count);                                                               // ∂L/∂embedded
        kernels.zero(dSummed.bytes, n * d);
        kernels.layerNormBackward(dResidual.bytes, summed.bytes, lnEmbGain.value(), summedStats.mean,
                summedStats.rstd, dSummed.bytes, lnEmbGain.gradient(), lnEmbBias.gradient(), n, d);
        kernels.embedBackward(batch.ints(Bert.TOKENS), first * t, dSummed.bytes, 1f, wte.gradient(),
                wpe.gradient(), n, t, d);                                                     // ∂wte +=, ∂wpe
        kernels.zero(wse.gradient(), 2 * d);
        int[] segments = batch.ints(Bert.SEGMENTS);
        for (int r = 0; r < n; r++) {
            int row = segments[first * t + r] * d;
            for (int k = 0; k < d; k++) {
                dSegmentTable.put(row + k, dSegmentTable.get(row + k) + dSummedRows.get(r * d + k));  // ∂wse
            }
        }
    }

    /** The MLM head's GEMMs for a bucket of masked rows. */
    private record HeadPlan(Matmul dense, Matmul tied, Matmul dTiedWeight, Matmul dTied, Matmul dDenseWeight,
                            Matmul dDense) {}

    /** The NSP head's GEMMs for a number of sequences. */
    private record PoolerPlan(Matmul pooler, Matmul classify, Matmul dClassifyWeight, Matmul dClassify,
                              Matmul dPoolerWeight, Matmul dPooler) {}

    private HeadPlan mlmPlan(int rows) {
        int bucket = rows / MASKED_BUCKET;
        if (mlmPlans[bucket] == null) {
            var table = parameters.weight("wte", v, d);
            var weight = parameters.weight("mlm/w_dense", d, d);
            mlmPlans[bucket] = new HeadPlan(
                    Matmul.of(chosen.gemm(rows), weight, parameters.bias("mlm/b_dense", d), dense.matrix(rows), false),
                    Matmul.of(transformed.gemm(rows), table.transposed(), parameters.bias("mlm/bias", v),
                            logits.matrix(rows), false),
                    Matmul.of(dLogits.gemm(rows).transposed(), transformed.gemm(rows), null,
                            parameters.gradient("wte", v, d), false),
                    Matmul.of(dLogits.gemm(rows), table, null, dTransformed.matrix(rows), false),
                    Matmul.of(chosen.gemm(rows).transposed(), dActivated.gemm(rows), null,
                            parameters.gradient("mlm/w_dense", d, d), false),
                    Matmul.of(dActivated.gemm(rows), weight.transposed(), null, dChosen.matrix(rows), false));
        }
        return mlmPlans[bucket];
    }

    private PoolerPlan nspPlan(int sequences) {
        if (nspPlans[sequences] == null) {
            var pool = parameters.weight("pooler/w", d, d);
            var classes = parameters.weight("nsp/w", d, 2);
            nspPlans[sequences] = new PoolerPlan(
                    Matmul.of(cls.gemm(sequences), pool, parameters.bias("pooler/b", d), pooled.matrix(sequences),
                            false),
                    Matmul.of(pooled.gemm(sequences), classes, parameters.bias("nsp/b", 2),
                            nspLogits.matrix(sequences), false),
                    Matmul.of(pooled.gemm(sequences).transposed(), dNsp.gemm(sequences), null,
                            parameters.gradient("nsp/w", d, 2), false),
                    Matmul.of(dNsp.gemm(sequences), classes.transposed(), null, dPooled.matrix(sequences), false),
                    Matmul.of(cls.gemm(sequences).transposed(), dPooled.gemm(sequences), null,
                            parameters.gradient("pooler/w", d, d), false),
                    Matmul.of(dPooled.gemm(sequences), pool.transposed(), null, dCls.matrix(sequences), false));
        }
        return nspPlans[sequences];
    }
}
