package io.ringformer.zoo.vit;

import io.ringformer.zoo.Dropout;
import io.ringformer.zoo.Initializer;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.ParameterTable;
import io.ringformer.zoo.attention.Attention;
import io.ringformer.zoo.attention.AttentionTypes;
import io.ringformer.zoo.attention.MultiHeadAttention;
import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.FusedModel;
import io.ringformer.zoo.family.GraphModel;
import io.ringformer.zoo.family.TransformerBlock;
import io.ringformer.zoo.fused.Kernels;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A Vision Transformer (Dosovitskiy et al. 2021) for small one-channel images: the image cut into P × P patches,
 * each patch embedded by one GEMM, a learned {@code [CLS]} token before them, learned positions, the standard
 * pre-LayerNorm blocks with bidirectional attention (no mask: every image has all its patches), a final LayerNorm
 * and a linear classification head on the {@code [CLS]} row.
 *
 * <p>Placeholders: {@value #PIXELS} [B, H·W] (normalised) and {@value #LABELS} [B, 1] (int32). Outputs:
 * {@value #LOGITS} [B, C] and {@value #LOSS}, the mean cross-entropy over the rows.
 */
public final class Vit extends GraphModel {

    /**
     * @param height, width the image (one channel); both multiples of {@code patch}
     * @param patch         P, the side of a square patch
     * @param classes       C
     */
    public record Config(int height, int width, int patch, int classes, int layers, int heads, int embedding,
                         double dropout, Attention attention) {
        public Config {
            if (patch < 1 || height % patch != 0 || width % patch != 0) {
                throw new IllegalArgumentException("model.patch_size=" + patch + " does not divide the " + height
                        + " × " + width + " image; use a divisor such as 4 or 7 for 28 × 28");
            }
            if (classes < 2 || layers < 1) {
                throw new IllegalArgumentException("at least 2 classes and 1 layer are required");
            }
            new MultiHeadAttention.Spec(embedding, heads, false, PositionType.LEARNED, dropout, attention); // validates
        }

        /** With full attention. */
        public Config(int height, int width, int patch, int classes, int layers, int heads, int embedding,
                      double dropout) {
            this(height, width, patch, classes, layers, heads, embedding, dropout, AttentionTypes.full());
        }

        /** The blocks' bidirectional self-attention. */
        public MultiHeadAttention.Spec attentionSpec() {
            return new MultiHeadAttention.Spec(embedding, heads, false, PositionType.LEARNED, dropout, attention);
        }

        /** N, the patches of one image. */
        public int patches() {
            return (height / patch) * (width / patch);
        }

        /** T = N + 1: the patches and the [CLS] token. */
        public int sequence() {
            return patches() + 1;
        }
    }

    public static final String PIXELS = "pixels";
    public static final String LABELS = "labels";
    public static final String LOGITS = "logits";
    public static final String LOSS = "loss";
    public static final String LOSS_SUM = "loss_sum";
    public static final String ROWS = "rows";
    public static final String CORRECT = "correct";

    private final Config config;
    private final MixedPrecision precision;
    private final List<String> attentionMaps = new ArrayList<>();

    private Vit(Config config, ParameterTable parameters, boolean training, MixedPrecision precision) {
        super(parameters, training ? config.dropout() : 0);
        this.config = config;
        this.precision = precision;
    }

    /** Builds the graph with parameters initialised from {@code seed}; a training graph has dropout if asked. */
    public static Vit build(Config config, long seed, boolean training, MixedPrecision precision) {
        return build(config, DataType.FLOAT, seed, training, precision);
    }

    /** As above, in {@code dataType} (double for gradient checks). */
    public static Vit build(Config config, DataType dataType, long seed, boolean training, MixedPrecision precision) {
        return new Vit(config, parameters(config, new Initializer(seed, dataType)), training, precision);
    }

    /** ViT's parameters in the graph's order: patch embedding, [CLS], positions, the blocks, ln_f, the head (zero). */
    static ParameterTable parameters(Config config, Initializer init) {
        ParameterTable table = new ParameterTable(init);
        int d = config.embedding();
        table.normal("patch/w_embed", 0.02, (long) config.patch() * config.patch(), d);       // [P², d]
        table.zeros("patch/b_embed", d);                                                      // [d]
        table.normal("cls", 0.02, 1, d);                                                      // [1, d]
        table.normal("wpe", 0.02, config.sequence(), d);                                      // [T, d]
        double residualStd = 0.02 / Math.sqrt(2.0 * config.layers());
        for (int layer = 0; layer < config.layers(); layer++) {
            TransformerBlock.declare(table, "h" + layer, config.attentionSpec(), residualStd);
        }
        TransformerBlock.declareLayerNorm(table, "ln_f", d);
        table.zeros("head/w_cls", d, config.classes());                                       // [d, C]
        table.zeros("head/b_cls", config.classes());                                          // [C]
        return table;
    }

    @Override
    protected void define(SameDiff sd, ParameterTable table, Dropout dropout) {
        int p = config.patch();
        int n = config.patches();
        int t = config.sequence();
        int d = config.embedding();
        int c = config.classes();
        DataType type = table.dataType();

        SDVariable pixels = sd.placeHolder(PIXELS, type, -1, (long) config.height() * config.width()); // [B, H·W]
        SDVariable labels = sd.placeHolder(LABELS, DataType.INT32, -1, 1);                    // [B, 1]

        // Patches: a constant permutation [H·W, H·W] orders each image's pixels patch by patch (row-major within a
        // patch), so that a plain reshape gives one row of P² pixels per patch; then one GEMM embeds them all.
        SDVariable ordered = sd.mmul(pixels, sd.constant("patch_order", patchOrder(config, type)));  // [B, H·W]
        SDVariable rows = sd.reshape(ordered, -1, (long) p * p);                             // [B·N, P²]
        SDVariable embedded = precision.linear(sd, null, rows, table.var(sd, "patch/w_embed"),
                table.var(sd, "patch/b_embed"));                                              // [B·N, d]
        SDVariable patches = sd.reshape(embedded, -1, n, d);                                  // [B, N, d]

        // [CLS] before the patches, by matmuls with constant 0/1 matrices (exact, and no slicing or concatenation
        // to differentiate): shift [T, N] puts patch i at row i + 1; the token goes to row 0 through the one-hot
        // column first [T, 1].
        SDVariable byPosition = sd.reshape(sd.permute(patches, 1, 0, 2), n, -1);              // [N, B·d]
        SDVariable shifted = sd.mmul(sd.constant("shift", shift(t, n, type)), byPosition);   // [T, B·d]
        SDVariable sequence = sd.permute(sd.reshape(shifted, t, -1, d), 1, 0, 2);             // [B, T, d]
        SDVariable cls = table.var(sd, "cls");                                                // [1, d]
        SDVariable first = sd.constant("first", firstRow(t, 1, type));                        // [T, 1]
        SDVariable wpe = table.var(sd, "wpe");                                                // [T, d]
        SDVariable x = sd.reshape(sequence.add(sd.mmul(first, cls).add(wpe)), -1, d);         // [B·T, d]
        x = dropout.apply(x, t, d);                                                           // [B·T, d]

        MultiHeadAttention attention = new MultiHeadAttention(
                config.attentionSpec(),
                precision);
        TransformerBlock block = new TransformerBlock(sd, attention, precision, dropout);
        for (int layer = 0; layer < config.layers(); layer++) {
            TransformerBlock.Output out = block.apply("h" + layer, x, t, null, table);          // [B·T, d]
            attentionMaps.add(out.attentionWeights().name());                                 // [B, H, T, T]
            x = out.rows();
        }
        x = TransformerBlock.layerNorm(sd, "ln_f", x, table);                                 // [B·T, d]
        SDVariable byRow = sd.reshape(sd.permute(sd.reshape(x, -1, t, d), 1, 0, 2), t, -1);   // [T, B·d]
        SDVariable clsOut = sd.reshape(sd.mmul(sd.constant("pick", firstRow(t, 1, type).transpose()), byRow),
                -1, d);                                                                       // [B, d]
        // A plain matmul and add: M2.1 computed other loss values from an identity over xw_plus_b here, depending on
        // which outputs a call asked for.
        SDVariable logits = precision.mmul(sd, clsOut, table.var(sd, "head/w_cls"), false, false)
                .add(LOGITS, table.var(sd, "head/b_cls"));                                    // [B, C]

        // Cross-entropy by hand (DESIGN.md §2), and the evaluation's parts: summed loss, rows, correct rows.
        SDVariable flatLabels = sd.reshape(labels, -1);                                       // [B]
        SDVariable picked = sd.oneHot(flatLabels, c, -1, 1.0, 0.0, type);                     // [B, C]
        SDVariable total = TransformerBlock.logSoftmax(sd, logits).mul(picked).sum().neg().rename(LOSS_SUM); // []
        SDVariable counted = flatLabels.gte(0).castTo(type).sum(ROWS);                        // []
        total.div(LOSS, sd.math.max(counted, sd.constant(Nd4j.scalar(type, 1.0))));           // []
        sd.argmax(logits, 1).castTo(DataType.INT32).eq(flatLabels).castTo(type).sum(CORRECT); // []
        sd.setLossVariables(LOSS);
    }

    /** The permutation matrix that takes pixel (y, x) to its place in patch (y / P, x / P), row-major. */
    static INDArray patchOrder(Config config, DataType type) {
        int p = config.patch();
        int w = config.width();
        int pixels = config.height() * w;
        float[][] matrix = new float[pixels][pixels];
        for (int y = 0; y < config.height(); y++) {
            for (int x = 0; x < w; x++) {
                int patch = (y / p) * (w / p) + x / p;
                matrix[y * w + x][patch * p * p + (y % p) * p + x % p] = 1;
            }
        }
        return Nd4j.createFromArray(matrix).castTo(type);
    }

    /** [T, N]: row i + 1 takes patch i; row 0 (the [CLS] token's) takes none. */
    private static INDArray shift(int t, int n, DataType type) {
        float[][] matrix = new float[t][n];
        for (int i = 0; i < n; i++) {
            matrix[i + 1][i] = 1;
        }
        return Nd4j.createFromArray(matrix).castTo(type);
    }

    /** [T, columns] with ones in row 0. */
    private static INDArray firstRow(int t, int columns, DataType type) {
        float[][] matrix = new float[t][columns];
        java.util.Arrays.fill(matrix[0], 1f);
        return Nd4j.createFromArray(matrix).castTo(type);
    }

    public Config config() {
        return config;
    }

    /** Weight decay on the patch embedding, the blocks' matrices and the head; not on [CLS], positions or biases. */
    @Override
    public boolean decays(String name) {
        return name.contains("/w_");
    }

    @Override
    public String loss() {
        return LOSS;
    }

    @Override
    public List<Metric> metrics() {
        return List.of(new Metric("loss", LOSS_SUM, ROWS), new Metric("accuracy", CORRECT, ROWS));
    }

    @Override
    public Map<String, INDArray> feed(Batch batch, int first, int count) {
        int pixels = config.height() * config.width();
        return Map.of(PIXELS, Nd4j.createFromArray(java.util.Arrays.copyOfRange(batch.floats(PIXELS),
                        first * pixels, (first + count) * pixels)).reshape(count, pixels),
                LABELS, Nd4j.createFromArray(java.util.Arrays.copyOfRange(batch.ints(LABELS), first, first + count))
                        .reshape(count, 1));
    }

    @Override
    public String fusedGap(MixedPrecision precision) {
        return fusedGap(config.dropout(), config.attention());
    }

    @Override
    public FusedModel fused(Map<String, Integer> offsets, int parameterCount, int maxRows, boolean bf16,
                            Kernels kernels) {
        return new FusedVit(config, offsets, parameterCount, maxRows, bf16, kernels);
    }

    /** The name of layer {@code layer}'s attention weights, [B, H, T, T]: an attention map to look at. */
    public String attentionMap(int layer) {
        graph();
        return attentionMaps.get(layer);
    }
}
