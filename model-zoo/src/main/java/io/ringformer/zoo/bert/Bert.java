package io.ringformer.zoo.bert;

import static io.ringformer.zoo.family.TransformerBlock.gelu;
import static io.ringformer.zoo.family.TransformerBlock.layerNorm;
import static io.ringformer.zoo.family.TransformerBlock.logSoftmax;

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
import io.ringformer.zoo.text.WordPieceTokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * BERT (Devlin et al. 2018): a bidirectional transformer encoder pre-trained with a masked language model (MLM)
 * and next sentence prediction (NSP) on pairs of sentences ({@link SentencePairs}).
 *
 * <p>Embeddings are token + segment (A or B) + learned position, then a LayerNorm (BERT §3, figure 2). The encoder
 * blocks are <em>pre</em>-LayerNorm (x + attn(LN(x)), x + mlp(LN(x)); Xiong et al. 2020), not the post-LN blocks of
 * the paper: post-LN needs a learning-rate warmup to train at all, pre-LN trains stably at the small scales and
 * short schedules this project runs, and it is GPT's block, so one fused block can serve both families. With pre-LN
 * a final LayerNorm closes the encoder. Attention is bidirectional; a padded key gets −1e9 added to its scores
 * ({@link io.ringformer.zoo.attention.AttentionMasks#padding}), so padding changes no real position's output.
 *
 * <p>Heads: the MLM head reads only the masked positions (BERT's {@code gather_indexes}; here a selection matmul,
 * since M2.1's gather has broken backprop): BERT's transform (dense d → d, GELU, LayerNorm), then logits tied to
 * the token embedding plus an output bias [V]. Logits at every position would be [B·T, V] arrays — at the recipe's
 * 4096 × 4000, a dozen of them (logits, softmax terms, one-hots, gradients) of 65 MB each a step, which swamped
 * ND4J's allocator. The NSP head is the pooler (dense d → d and tanh on the [CLS] position) and a dense d → 2.
 *
 * <p>The loss, per row b: Σₜ w[b, t] · CE_mlm[b, t] + CE_nsp[b], where the data's weights w are B / M at the M
 * masked positions of the global batch of B rows and 0 elsewhere ({@link SentencePairs}); {@value #LOSS} is the
 * mean over the rows fed, (Σ over their masked tokens of w · CE + Σ over the rows of CE_nsp) / rows. Over a whole
 * batch that is BERT's objective — the mean MLM cross-entropy over masked tokens plus the mean NSP cross-entropy —
 * and rows split among ranks add up to it exactly.
 *
 * <p>A batch ({@link #layout}): {@value #TOKENS}, {@value #SEGMENTS} (0 or 1), {@value #MLM_TARGETS} (original id
 * at masked positions, −1 elsewhere), all [B, T] int32, and {@value #NSP_LABEL} [B, 1] (1 IsNext, 0 NotNext);
 * {@value #MASK} (1 real, 0 pad) and {@value #MLM_WEIGHTS} [B, T] float. {@link #feed} turns the MLM arrays into
 * the graph's placeholders {@value #MLM_SELECT} [M, B·T], {@value #MLM_IDS} [M] and {@value #MLM_TOKEN_WEIGHTS} [M].
 * Outputs: {@value #HIDDEN} [B·T, d], {@value #LOGITS} [M, V] (the masked positions in row-major order),
 * {@value #NSP_LOGITS} [B, 2], {@value #LOSS} and the metrics' sums and counts ({@link #metrics}).
 */
public final class Bert extends GraphModel {

    /**
     * @param vocabSize V, the WordPiece vocabulary
     * @param seqLen    T, tokens per row ([CLS] and both [SEP]s included)
     * @param layers    encoder blocks
     * @param heads     attention heads per block
     * @param width     model width d
     * @param dropout   drop probability on embeddings, attention weights and residual branches while training
     * @param attention the encoder's attention type
     */
    public record Config(int vocabSize, int seqLen, int layers, int heads, int width, double dropout,
                         Attention attention) {
        public Config {
            if (vocabSize <= SentencePairs.FIRST_ORDINARY_ID || seqLen < 5 || layers < 1) {
                throw new IllegalArgumentException("vocab_size > 5 (the special tokens and one more), seq_len ≥ 5 "
                        + "([CLS] A [SEP] B [SEP]) and n_layer ≥ 1 are required");
            }
            new MultiHeadAttention.Spec(width, heads, false, PositionType.LEARNED, dropout, attention); // validates
        }

        /** With full attention. */
        public Config(int vocabSize, int seqLen, int layers, int heads, int width, double dropout) {
            this(vocabSize, seqLen, layers, heads, width, dropout, AttentionTypes.full());
        }

        /** The blocks' bidirectional self-attention. */
        public MultiHeadAttention.Spec attentionSpec() {
            return new MultiHeadAttention.Spec(width, heads, false, PositionType.LEARNED, dropout, attention);
        }
    }

    public static final String TOKENS = "tokens";
    public static final String SEGMENTS = "segments";
    public static final String MASK = "mask";
    public static final String MLM_TARGETS = "mlm_targets";
    public static final String MLM_WEIGHTS = "mlm_weights";
    public static final String NSP_LABEL = "nsp_label";
    /** Placeholders the graph reads instead of the batch's [B, T] MLM arrays ({@link #feed} derives them). */
    public static final String MLM_SELECT = "mlm_select";
    public static final String MLM_IDS = "mlm_ids";
    public static final String MLM_TOKEN_WEIGHTS = "mlm_token_weights";
    /** The encoder's output, [B·T, d], after the final LayerNorm. */
    public static final String HIDDEN = "hidden";
    public static final String LOGITS = "logits";
    public static final String NSP_LOGITS = "nsp_logits";
    public static final String LOSS = "loss";
    /** Σ over rows of the per-row loss, and the rows: the {@code loss} metric. */
    public static final String LOSS_SUM = "loss_sum";
    public static final String ROWS = "rows";
    /** Σ MLM cross-entropy over masked tokens, and the masked tokens: {@code mlm_loss}. */
    public static final String MLM_LOSS_SUM = "mlm_loss_sum";
    public static final String MASKED = "masked";
    /** Masked tokens whose argmax is the target: {@code mlm_accuracy} (over {@value #MASKED}). */
    public static final String MLM_CORRECT = "mlm_correct";
    /** Rows whose NSP argmax is the label: {@code nsp_accuracy} (over {@value #ROWS}). */
    public static final String NSP_CORRECT = "nsp_correct";

    private final Config config;
    private final MixedPrecision precision;

    private Bert(Config config, ParameterTable parameters, boolean training, MixedPrecision precision) {
        super(parameters, training ? config.dropout() : 0);
        this.config = config;
        this.precision = precision;
    }

    /**
     * Builds the graph with parameters initialised from {@code seed}.
     *
     * @param training adds dropout when {@code config.dropout() > 0}, fed by {@link #dropoutNoise}
     */
    public static Bert build(Config config, DataType dataType, long seed, boolean training) {
        return build(config, dataType, seed, training, MixedPrecision.FP32);
    }

    /** As above, with every matmul in {@code precision}'s compute type (fp32 master weights stay in the graph). */
    public static Bert build(Config config, DataType dataType, long seed, boolean training,
                             MixedPrecision precision) {
        return new Bert(config, parameters(config, new Initializer(seed, dataType)), training, precision);
    }

    /** BERT's parameters in the graph's order: embeddings and their LayerNorm, the blocks, ln_f, the heads. */
    static ParameterTable parameters(Config config, Initializer init) {
        ParameterTable table = new ParameterTable(init);
        int d = config.width();
        table.normal("wte", 0.02, config.vocabSize(), d);                                     // [V, d]
        table.normal("wse", 0.02, 2, d);                                                      // [2, d]
        table.normal("wpe", 0.02, config.seqLen(), d);                                        // [T, d]
        TransformerBlock.declareLayerNorm(table, "ln_emb", d);
        double residualStd = 0.02 / Math.sqrt(2.0 * config.layers()); // GPT-2 §2.3, as the same block in Gpt
        for (int layer = 0; layer < config.layers(); layer++) {
            TransformerBlock.declare(table, "h" + layer, config.attentionSpec(), residualStd);
        }
        TransformerBlock.declareLayerNorm(table, "ln_f", d);
        table.normal("mlm/w_dense", 0.02, d, d);                                              // [d, d]
        table.zeros("mlm/b_dense", d);
        TransformerBlock.declareLayerNorm(table, "mlm/ln", d);
        table.zeros("mlm/bias", config.vocabSize());                                          // [V]
        table.normal("pooler/w", 0.02, d, d);                                                 // [d, d]
        table.zeros("pooler/b", d);
        table.normal("nsp/w", 0.02, d, 2);                                                    // [d, 2]
        table.zeros("nsp/b", 2);
        return table;
    }

    @Override
    protected void define(SameDiff sd, ParameterTable table, Dropout dropout) {
        int v = config.vocabSize();
        int t = config.seqLen();
        int d = config.width();
        DataType type = table.dataType();
        MultiHeadAttention attention = new MultiHeadAttention(
                config.attentionSpec(),
                precision);

        SDVariable tokens = sd.placeHolder(TOKENS, DataType.INT32, -1, t);                     // [B, T]
        SDVariable segments = sd.placeHolder(SEGMENTS, DataType.INT32, -1, t);                 // [B, T]
        SDVariable keep = sd.placeHolder(MASK, type, -1, t);                                   // [B, T]
        SDVariable label = sd.placeHolder(NSP_LABEL, DataType.INT32, -1, 1);                   // [B, 1]
        SDVariable select = sd.placeHolder(MLM_SELECT, type, -1, -1);                          // [M, B·T]
        SDVariable targets = sd.placeHolder(MLM_IDS, DataType.INT32, -1);                      // [M]
        SDVariable weights = sd.placeHolder(MLM_TOKEN_WEIGHTS, type, -1);                      // [M]

        // Embeddings. One-hot × table, because M2.1's gather has broken backprop (DESIGN.md §2).
        SDVariable wte = table.var(sd, "wte");                                                // [V, d]
        SDVariable wse = table.var(sd, "wse");                                                // [2, d]
        SDVariable wpe = table.var(sd, "wpe");                                                // [T, d]
        SDVariable x = sd.mmul(sd.reshape(sd.oneHot(tokens, v, -1, 1.0, 0.0, type), -1, v), wte);  // [B·T, d]
        x = x.add(sd.mmul(sd.reshape(sd.oneHot(segments, 2, -1, 1.0, 0.0, type), -1, 2), wse));  // [B·T, d]
        x = sd.reshape(sd.reshape(x, -1, t, d).add(wpe), -1, d);                              // [B·T, d]
        x = layerNorm(sd, "ln_emb", x, table);                                                // [B·T, d]
        x = dropout.apply(x, t, d);                                                           // [B·T, d]

        TransformerBlock block = new TransformerBlock(sd, attention, precision, dropout);
        for (int layer = 0; layer < config.layers(); layer++) {
            x = block.apply("h" + layer, x, t, keep, table).rows();           // [B·T, d]; pads: −1e9
        }
        x = layerNorm(sd, "ln_f", x, table).rename(HIDDEN);                                   // [B·T, d]

        // MLM head on the M masked positions only (a selection matmul, as gather's backprop is broken): the
        // transform, then the tied token embedding and an output bias.
        SDVariable chosen = sd.mmul(select, x);                                               // [M, d]
        SDVariable transformed = layerNorm(sd, "mlm/ln", gelu(sd, precision.linear(sd, null, chosen,
                table.var(sd, "mlm/w_dense"), table.var(sd, "mlm/b_dense"))), table);       // [M, d]
        SDVariable tied = precision.isFullPrecision()
                ? sd.mmul(transformed, wte, false, true, false)
                : precision.mmul(sd, transformed, wte, false, true);                          // [M, V]
        SDVariable logits = tied.add(LOGITS, table.var(sd, "mlm/bias"));                      // [M, V]

        // MLM cross-entropy by hand: M2.1's sparse softmax CE ignores the upstream gradient (DESIGN.md §2).
        SDVariable picked = sd.oneHot(targets, v, -1, 1.0, 0.0, type);                        // [M, V]
        SDVariable crossEntropy = logSoftmax(sd, logits).mul(picked).sum(1).neg();                // [M]
        SDVariable mlmWeighted = crossEntropy.mul(weights).sum();                             // []: Σ_b Σ_t w·CE

        // NSP head on [CLS]: the pooler, then two classes.
        SDVariable cls = sd.reshape(x, -1, t, d).get(SDIndex.all(), SDIndex.point(0), SDIndex.all()); // [B, d]
        SDVariable pooled = sd.math.tanh(precision.linear(sd, null, cls, table.var(sd, "pooler/w"),
                table.var(sd, "pooler/b")));                                                  // [B, d]
        SDVariable nspLogits = precision.linear(sd, NSP_LOGITS, pooled, table.var(sd, "nsp/w"),
                table.var(sd, "nsp/b"));                                                      // [B, 2]
        SDVariable nspOneHot = sd.oneHot(sd.reshape(label, -1), 2, -1, 1.0, 0.0, type);       // [B, 2]
        SDVariable nspPerRow = logSoftmax(sd, nspLogits).mul(nspOneHot).sum(1).neg();             // [B]

        SDVariable rows = nspOneHot.sum(ROWS);                                                // []: one 1 per row
        SDVariable lossSum = mlmWeighted.add(LOSS_SUM, nspPerRow.sum());                      // []
        lossSum.div(LOSS, rows);                                                              // []
        sd.setLossVariables(LOSS);

        // Evaluation sums (not on the loss's path, so not differentiated). A guess is right when the target's logit
        // is the row's largest (a tie counts as right; M2.1's argmax warns "No fields found" on every build).
        crossEntropy.sum(MLM_LOSS_SUM);                                                       // []
        picked.sum(MASKED);                                                                   // []: M
        SDVariable targetLogit = logits.mul(picked).sum(1);                                   // [M]
        sd.eq(targetLogit, sd.max(logits, 1)).castTo(type).sum(MLM_CORRECT);                  // []
        SDVariable labelLogit = nspLogits.mul(nspOneHot).sum(1);                              // [B]
        sd.eq(labelLogit, sd.max(nspLogits, 1)).castTo(type).sum(NSP_CORRECT);                // []
    }

    /**
     * Weight decay on matrices: the token embedding (it is also the MLM output matrix), every projection, the
     * pooler and the NSP classifier. Not on biases, LayerNorm gains and biases, the MLM output bias, nor the
     * position and segment tables: those two are per-position and per-segment additive offsets — biases in
     * all but name — and decaying them, as GPT here does not decay its position table, buys nothing.
     */
    @Override
    public boolean decays(String name) {
        return name.equals("wte") || name.contains("/w_") || name.equals("pooler/w") || name.equals("nsp/w");
    }

    @Override
    public String loss() {
        return LOSS;
    }

    /** loss (the objective, per row), mlm_loss (per masked token), mlm_accuracy, nsp_accuracy. */
    @Override
    public List<Metric> metrics() {
        return List.of(new Metric("loss", LOSS_SUM, ROWS), new Metric("mlm_loss", MLM_LOSS_SUM, MASKED),
                new Metric("mlm_accuracy", MLM_CORRECT, MASKED), new Metric("nsp_accuracy", NSP_CORRECT, ROWS));
    }

    /**
     * One row holding {@code [CLS]} ids {@code [SEP]} as segment A, real positions unmasked, the rest padding, and
     * no MLM target yet (all −1): what the commands that use a trained BERT start from.
     *
     * @throws IllegalArgumentException when the ids do not fit between [CLS] and [SEP]
     */
    public static Batch sentence(int[] ids, int seqLen) {
        if (ids.length + 2 > seqLen) {
            throw new IllegalArgumentException("the text is " + ids.length + " tokens; this model reads at most "
                    + (seqLen - 2) + " between [CLS] and [SEP]");
        }
        Batch batch = new Batch(layout(seqLen), 1);
        int[] tokens = batch.ints(TOKENS);
        tokens[0] = WordPieceTokenizer.CLS_ID;
        System.arraycopy(ids, 0, tokens, 1, ids.length);
        tokens[ids.length + 1] = WordPieceTokenizer.SEP_ID;
        Arrays.fill(batch.floats(MASK), 0, ids.length + 2, 1f);
        Arrays.fill(batch.ints(MLM_TARGETS), -1);
        return batch;
    }

    /** The arrays of a batch this model reads, rows of {@code seqLen} ({@link SentencePairs} fills them). */
    public static List<Batch.Field> layout(int seqLen) {
        return List.of(Batch.Field.ints(TOKENS, seqLen), Batch.Field.ints(SEGMENTS, seqLen),
                Batch.Field.floats(MASK, seqLen), Batch.Field.ints(MLM_TARGETS, seqLen),
                Batch.Field.floats(MLM_WEIGHTS, seqLen), Batch.Field.ints(NSP_LABEL, 1));
    }

    /**
     * The placeholders for the batch's rows [first, first + count): the [B, T] arrays as they are, and from
     * {@value #MLM_TARGETS} and {@value #MLM_WEIGHTS} the M masked positions in row-major order — a selection matrix
     * [M, B·T] (one 1 per row, at the position), their target ids [M] and their weights [M].
     */
    @Override
    public Map<String, INDArray> feed(Batch batch, int first, int count) {
        int t = config.seqLen();
        int[] targets = batch.ints(MLM_TARGETS);
        float[] weights = batch.floats(MLM_WEIGHTS);
        int from = first * t;
        int to = (first + count) * t;
        int masked = 0;
        for (int i = from; i < to; i++) {
            masked += targets[i] >= 0 ? 1 : 0;
        }
        float[] select = new float[masked * (to - from)];
        int[] ids = new int[masked];
        float[] tokenWeights = new float[masked];
        for (int i = from, m = 0; i < to; i++) {
            if (targets[i] >= 0) {
                select[m * (to - from) + (i - from)] = 1f;
                ids[m] = targets[i];
                tokenWeights[m++] = weights[i];
            }
        }
        DataType type = parameters().dataType();
        return Map.of(TOKENS, ints(batch.ints(TOKENS), first, count, t),
                SEGMENTS, ints(batch.ints(SEGMENTS), first, count, t),
                MASK, floats(batch.floats(MASK), first, count, t),
                NSP_LABEL, ints(batch.ints(NSP_LABEL), first, count, 1),
                MLM_SELECT, Nd4j.createFromArray(select).reshape(masked, to - from).castTo(type),
                MLM_IDS, Nd4j.createFromArray(ids),
                MLM_TOKEN_WEIGHTS, Nd4j.createFromArray(tokenWeights).castTo(type));
    }

    private static INDArray ints(int[] values, int first, int count, int width) {
        return Nd4j.createFromArray(Arrays.copyOfRange(values, first * width, (first + count) * width))
                .reshape(count, width);
    }

    private INDArray floats(float[] values, int first, int count, int width) {
        return Nd4j.createFromArray(Arrays.copyOfRange(values, first * width, (first + count) * width))
                .reshape(count, width).castTo(parameters().dataType());
    }

    @Override
    public String fusedGap(MixedPrecision precision) {
        return fusedGap(config.dropout(), config.attention());
    }

    @Override
    public FusedModel fused(Map<String, Integer> offsets, int parameterCount, int maxRows, boolean bf16,
                            Kernels kernels) {
        return new FusedBert(config, offsets, parameterCount, maxRows, bf16, kernels);
    }

    public Config config() {
        return config;
    }
}
