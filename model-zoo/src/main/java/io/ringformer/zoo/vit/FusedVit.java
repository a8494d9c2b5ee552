package io.ringformer.zoo.vit;

import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.FusedModel;
import io.ringformer.zoo.fused.Activations;
import io.ringformer.zoo.fused.FusedBlocks;
import io.ringformer.zoo.fused.FusedParameters;
import io.ringformer.zoo.fused.Kernels;
import io.ringformer.zoo.fused.Matmul;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.Map;

/**
 * The {@link Vit}'s training step written out by hand: the patch embedding and the classification head here, the
 * shared {@link FusedBlocks} between them (bidirectional attention, every key real). The SameDiff graph is the
 * reference it is tested against.
 *
 * <p>Notation: B images of N = (H/P)·(W/P) patches; T = N + 1 rows a sequence ([CLS] first); width d; C classes.
 * The final LayerNorm and the head run on the B [CLS] rows alone: LayerNorm is per row, and no other row reaches
 * the loss, so this equals the graph, which normalises every row.
 */
public final class FusedVit implements FusedModel {

    private final Vit.Config config;
    private final Kernels kernels;
    private final int maxImages;
    private final int p2;     // P², pixels per patch
    private final int n;      // N patches
    private final int t;      // T = N + 1
    private final int d;
    private final int c;
    private final int[] patchOrder;   // ordered[i] = image[patchOrder[i]], patch by patch
    private final FusedParameters parameters;
    private final FusedBlocks blocks;
    private final FusedParameters.Parameter bEmbed;   // [d]
    private final FusedParameters.Parameter cls;      // [d]
    private final FusedParameters.Parameter wpe;      // [T, d]
    private final FusedParameters.Parameter lnFGain;  // [d]
    private final FusedParameters.Parameter lnFBias;  // [d]
    private final FusedParameters.Parameter bCls;     // [C]

    private final Activations patches;     // [B·N, P²] pixels, patch by patch
    private final Activations patchRows;   // [B·N, d] the patch embedding
    private final Activations embedded;    // [B·T, d] [CLS] and patches, plus positions: the blocks' input
    private final Activations clsIn;       // [B, d] the [CLS] rows leaving the blocks
    private final Activations clsNorm;     // [B, d] after the final LayerNorm
    private final Activations.Stats clsStats;
    private final Activations logits;      // [B, C]
    private final Activations dLogits;     // [B, C]
    private final Activations dClsNorm;    // [B, d]
    private final Activations dClsIn;      // [B, d]
    private final Activations dPatchRows;  // [B·N, d]
    private final int[] labels;            // the current call's labels, from 0
    private final Plan[] plans;

    public FusedVit(Vit.Config config, Map<String, Integer> offsets, int parameterCount, int maxImages, boolean bf16,
                    Kernels kernels) {
        if (config.dropout() > 0) {
            throw new IllegalArgumentException("the fused ViT has no dropout; train models with dropout on SameDiff");
        }
        this.config = config;
        this.kernels = kernels;
        this.maxImages = maxImages;
        this.p2 = config.patch() * config.patch();
        this.n = config.patches();
        this.t = config.sequence();
        this.d = config.embedding();
        this.c = config.classes();
        this.patchOrder = patchOrder(config);
        parameters = new FusedParameters(offsets, parameterCount, bf16, kernels);
        blocks = new FusedBlocks(new FusedBlocks.Shape(config.layers(), config.heads(), d, t, false,
                io.ringformer.zoo.attention.PositionType.LEARNED, config.attention().fused()), parameters, maxImages);
        bEmbed = parameters.parameter("patch/b_embed", d);
        cls = parameters.parameter("cls", d);
        wpe = parameters.parameter("wpe", t * d);
        lnFGain = parameters.parameter("ln_f/gain", d);
        lnFBias = parameters.parameter("ln_f/bias", d);
        bCls = parameters.parameter("head/b_cls", c);
        patches = new Activations(maxImages * n, p2, bf16, kernels);
        patchRows = new Activations(maxImages * n, d, false, kernels);
        embedded = new Activations(maxImages * t, d, false, kernels);
        clsIn = new Activations(maxImages, d, false, kernels);
        clsNorm = new Activations(maxImages, d, bf16, kernels);
        clsStats = new Activations.Stats(maxImages);
        logits = new Activations(maxImages, c, false, kernels);
        dLogits = new Activations(maxImages, c, bf16, kernels);
        dClsNorm = new Activations(maxImages, d, false, kernels);
        dClsIn = new Activations(maxImages, d, false, kernels);
        dPatchRows = new Activations(maxImages * n, d, bf16, kernels);
        labels = new int[maxImages];
        plans = new Plan[maxImages + 1];
    }

    /** For pixel i of an image in patch order, its index in the row-major image ({@link Vit}'s permutation). */
    static int[] patchOrder(Vit.Config config) {
        int p = config.patch();
        int w = config.width();
        int[] order = new int[config.height() * w];
        for (int y = 0; y < config.height(); y++) {
            for (int x = 0; x < w; x++) {
                order[((y / p) * (w / p) + x / p) * p * p + (y % p) * p + x % p] = y * w + x;
            }
        }
        return order;
    }

    @Override
    public FusedParameters parameters() {
        return parameters;
    }

    /** Forward and backward over images [first, first + count): the gradient of gradScale × mean cross-entropy. */
    @Override
    public double trainStep(Batch batch, int first, int count, float gradScale) {
        Plan plan = plan(count);
        forward(plan, batch, first, count, true);
        double sum = kernels.crossEntropy(logits.bytes, labels, 0, dLogits.bytes, count, c, gradScale / count);
        backward(plan, count);
        return sum / count;
    }

    /** The summed cross-entropy, the images, the correct images, the images ({@link Vit#metrics}). */
    @Override
    public double[] evaluate(Batch batch, int first, int count) {
        forward(plan(count), batch, first, count, false);
        double sum = kernels.crossEntropyLoss(logits.bytes, labels, 0, count, c);
        int correct = 0;
        FloatBuffer scores = logits.bytes.asFloatBuffer();
        for (int r = 0; r < count; r++) {
            int best = 0;
            for (int k = 1; k < c; k++) {
                best = scores.get(r * c + k) > scores.get(r * c + best) ? k : best;
            }
            correct += best == labels[r] ? 1 : 0;
        }
        return new double[] {sum, count, correct, count};
    }

    // ---------------------------------------------------------------------------------------------------------
    // Forward and backward

    private void forward(Plan plan, Batch batch, int first, int count, boolean training) {
        float[] pixels = batch.floats(Vit.PIXELS);
        System.arraycopy(batch.ints(Vit.LABELS), first, labels, 0, count);
        int size = patchOrder.length;
        FloatBuffer ordered = patches.bytes.asFloatBuffer();
        for (int image = 0; image < count; image++) {
            int from = (first + image) * size;
            for (int i = 0; i < size; i++) {
                ordered.put(image * size + i, pixels[from + patchOrder[i]]);          // [B·N, P²]
            }
        }
        patches.roundToBf16(count * n);
        plan.embed.run();                                                             // [B·N, d] + b
        FloatBuffer x = embedded.bytes.asFloatBuffer();
        FloatBuffer rows = patchRows.bytes.asFloatBuffer();
        FloatBuffer token = cls.value().asFloatBuffer();
        FloatBuffer positions = wpe.value().asFloatBuffer();
        for (int image = 0; image < count; image++) {
            for (int k = 0; k < d; k++) {
                x.put(image * t * d + k, token.get(k) + positions.get(k));           // [CLS] + wpe[0]
            }
            for (int i = 0; i < n; i++) {
                int to = (image * t + 1 + i) * d;
                int from = (image * n + i) * d;
                for (int k = 0; k < d; k++) {
                    x.put(to + k, rows.get(from + k) + positions.get((1 + i) * d + k)); // patch + wpe[1 + i]
                }
            }
        }
        Activations out = blocks.forward(count, embedded, null, training);            // [B·T, d]
        FloatBuffer leaving = out.bytes.asFloatBuffer();
        FloatBuffer first0 = clsIn.bytes.asFloatBuffer();
        for (int image = 0; image < count; image++) {
            for (int k = 0; k < d; k++) {
                first0.put(image * d + k, leaving.get(image * t * d + k));             // [B, d] the [CLS] rows
            }
        }
        kernels.layerNorm(clsIn.bytes, lnFGain.value(), lnFBias.value(), clsNorm.bytes, clsStats.mean,
                clsStats.rstd, count, d, FusedBlocks.LAYER_NORM_EPS);                  // [B, d]
        clsNorm.roundToBf16(count);
        plan.head.run();                                                              // logits [B, C]
    }

    private void backward(Plan plan, int count) {
        dLogits.roundToBf16(count);
        plan.dHeadWeight.run();                                                       // ∂W_cls = clsᵀ·dLogits
        kernels.columnSums(dLogits.bytes, bCls.gradient(), count, c);
        plan.dHead.run();                                                             // dCls = dLogits·W_clsᵀ
        kernels.zero(dClsIn.bytes, count * d);
        kernels.layerNormBackward(dClsNorm.bytes, clsIn.bytes, lnFGain.value(), clsStats.mean, clsStats.rstd,
                dClsIn.bytes, lnFGain.gradient(), lnFBias.gradient(), count, d);
        Activations dResidual = blocks.residualGradient();
        kernels.zero(dResidual.bytes, count * t * d);
        FloatBuffer dx = dResidual.bytes.asFloatBuffer();
        FloatBuffer dFirst = dClsIn.bytes.asFloatBuffer();
        for (int image = 0; image < count; image++) {
            for (int k = 0; k < d; k++) {
                dx.put(image * t * d + k, dFirst.get(image * d + k));                 // only [CLS] rows reach the loss
            }
        }
        blocks.backward(count);                                                       // ∂L/∂embedded
        FloatBuffer dToken = cls.gradient().asFloatBuffer();
        FloatBuffer dPositions = wpe.gradient().asFloatBuffer();
        FloatBuffer dRows = dPatchRows.bytes.asFloatBuffer();
        for (int i = 0; i < t * d; i++) {
            dPositions.put(i, 0f);
        }
        for (int k = 0; k < d; k++) {
            dToken.put(k, 0f);
        }
        for (int image = 0; image < count; image++) {
            for (int row = 0; row < t; row++) {
                for (int k = 0; k < d; k++) {
                    float g = dx.get((image * t + row) * d + k);
                    dPositions.put(row * d + k, dPositions.get(row * d + k) + g);    // ∂wpe = Σ_images
                    if (row == 0) {
                        dToken.put(k, dToken.get(k) + g);                             // ∂cls
                    } else {
                        dRows.put((image * n + row - 1) * d + k, g);                  // ∂(patch rows)
                    }
                }
            }
        }
        dPatchRows.roundToBf16(count * n);
        plan.dEmbedWeight.run();                                                      // ∂W_embed = patchesᵀ·dRows
        kernels.columnSums(dPatchRows.bytes, bEmbed.gradient(), count * n, d);
    }

    /** The GEMMs of the embedding and the head, bound to their buffers for a given number of images. */
    private record Plan(Matmul embed, Matmul head, Matmul dHeadWeight, Matmul dHead, Matmul dEmbedWeight) {}

    private Plan plan(int images) {
        if (images < 1 || images > maxImages) {
            throw new IllegalArgumentException("1 to " + maxImages + " images per call, got " + images);
        }
        if (plans[images] == null) {
            int rows = images * n;
            plans[images] = new Plan(
                    Matmul.of(patches.gemm(rows), parameters.weight("patch/w_embed", p2, d),
                            parameters.bias("patch/b_embed", d), patchRows.matrix(rows), false),
                    Matmul.of(clsNorm.gemm(images), parameters.weight("head/w_cls", d, c),
                            parameters.bias("head/b_cls", c), logits.matrix(images), false),
                    Matmul.of(clsNorm.gemm(images).transposed(), dLogits.gemm(images), null,
                            parameters.gradient("head/w_cls", d, c), false),
                    Matmul.of(dLogits.gemm(images), parameters.weight("head/w_cls", d, c).transposed(), null,
                            dClsNorm.matrix(images), false),
                    Matmul.of(patches.gemm(rows).transposed(), dPatchRows.gemm(rows), null,
                            parameters.gradient("patch/w_embed", p2, d), false));
        }
        return plans[images];
    }
}
