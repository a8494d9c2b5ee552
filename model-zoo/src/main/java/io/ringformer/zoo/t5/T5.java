package io.ringformer.zoo.t5;

import static io.ringformer.zoo.family.TransformerBlock.logSoftmax;

import io.ringformer.zoo.Dropout;
import io.ringformer.zoo.Initializer;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.ParameterTable;
import io.ringformer.zoo.attention.MultiHeadAttention;
import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.attention.SinusoidalPositions;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.FusedModel;
import io.ringformer.zoo.family.GraphModel;
import io.ringformer.zoo.fused.Kernels;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * T5 (Raffel et al. 2020): an encoder–decoder transformer. The encoder reads the source with bidirectional
 * self-attention under its padding mask; the decoder reads the target shifted right (starting with the pad id, T5's
 * decoder start) with causal self-attention, then attends to the encoder's output under the source's padding mask.
 *
 * <p>As T5 does: positions are not embedded but enter every self-attention as a learned bias on the scores, looked
 * up by a bucket of the query–key distance ({@link RelativePositions}: 32 buckets, exact up to 8 or 16, logarithmic
 * up to 128), one [buckets, H] table per stack shared by its layers; the norm is RMSNorm (a gain, no centring, no
 * bias) before each sub-layer and after each stack; one embedding table is shared by the encoder's input, the
 * decoder's input and the output head, whose logits are (h · d^-½) · Eᵀ; the feed-forward is ReLU without biases.
 * Unlike T5, the attention projections keep their biases and scores are scaled by 1/√dₕ (the shared
 * {@link MultiHeadAttention}); T5 folds that scale into its initialisation instead.
 *
 * <p><b>Initialisation</b> as T5's (Mesh TensorFlow): the embedding N(0, 1), every matrix N(0, 1 / fan-in) — the
 * query's d^-½ here with the 1/√dₕ on the scores is T5's (d·dₕ)^-½ without it. So each residual branch adds about
 * as much to the stream as the embedding it starts from. GPT-2's initialisation (0.02, the branches' outputs
 * 0.02/√(2L)) made the branches add about 1% to the N(0, 1) embedding: the decoder learnt a language model of its own
 * input and hardly read the encoder (docs/architecture.md has the measurements).
 *
 * <p><b>Positions for copying</b>, three recipe choices that are not T5's (all off by default, so the model is T5's):
 * {@code absolutePositions} adds Vaswani's sinusoids to both stacks' token embeddings; {@code crossBias} gives
 * cross-attention a relative bias of its own (query position t, key position s, the encoder's bidirectional
 * buckets of s − t), so that it can attend "the source token at my position"; {@code biasScale} multiplies every
 * relative-bias table as it enters the scores, because Adam moves a table entry by about the learning rate a step
 * and a bias that decides where a head looks needs several units. T5's cross-attention has no position
 * information at all: position-aligned copying (the "chapter:verse" that starts both sides of a numbered verse)
 * must then be built from the relative biases of both stacks, which a small model does not learn in a short run.
 *
 * <p>The loss, per row b: Σₜ w[b, t] · CE[b, t], with the data's weights w = B / N at the N real target tokens of
 * the global batch of B rows (0 at padding); {@value #LOSS} is its mean over the rows fed, so over a whole batch it
 * is the mean cross-entropy per target token, and rows split among ranks add up to it exactly. With label smoothing
 * ε (Szegedy et al. 2016, "Rethinking the Inception architecture"; Vaswani et al. 2017 use ε = 0.1 for
 * translation) CE[b, t] is the cross-entropy against (1 − ε) · one-hot + ε / V, i.e.
 * (1 − ε) · (−log p_y) + ε · mean_v(−log p_v), PyTorch's {@code label_smoothing}: it keeps a small model from
 * staking everything on the few tokens it is surest of. {@value #TOKEN_LOSS_SUM} stays the plain cross-entropy, so
 * that {@code token_loss} compares across ε.
 *
 * <p>A batch is a {@link Seq2SeqBatch}: {@value #ENCODER_TOKENS} [B, S] and {@value #DECODER_TOKENS} [B, T] int32
 * (pad 0, which also starts the decoder), {@value #TARGETS} [B, T] int32 (−1 at padding; {@link #feed} feeds 0
 * there, weighted 0), {@value #ENCODER_MASK} and {@value #TARGET_MASK} (1 real, 0 pad), {@value #TARGET_WEIGHTS}.
 * Outputs: {@value #ENCODED} [B·S, d], {@value #LOGITS} [B·T, V], {@value #LOSS} and the metrics' sums and counts.
 */
public final class T5 extends GraphModel {

    /**
     * @param vocabSize     V, the shared vocabulary (sentinels included)
     * @param sourceLength  S, encoder tokens per row (EOS included)
     * @param targetLength  T, decoder tokens per row
     * @param layers        blocks in each stack
     * @param heads         attention heads H
     * @param width         model width d
     * @param ffWidth       the feed-forward's inner width
     * @param dropout       drop probability on embeddings, attention weights and residual branches while training
     * @param buckets       relative-position buckets (T5: 32)
     * @param maxDistance   the distance from which all positions share the last bucket (T5: 128)
     * @param labelSmoothing ε: the loss's target puts 1 − ε on the true token and ε / V on every token (0: plain
     *                      cross-entropy); only the training objective changes, not the decoder
     * @param absolutePositions whether both stacks also add Vaswani's sinusoids to their token embeddings (not in T5;
     *                      see the class comment)
     * @param crossBias     whether cross-attention adds a relative position bias of its own (not in T5; see the
     *                      class comment)
     * @param biasScale     the relative-bias tables enter the scores times this (T5: 1): a larger one lets Adam move
     *                      the biases as many times faster
     */
    public record Config(int vocabSize, int sourceLength, int targetLength, int layers, int heads, int width,
                         int ffWidth, double dropout, int buckets, int maxDistance, double labelSmoothing,
                         boolean absolutePositions, boolean crossBias, double biasScale) {

        /** T5's positions: the relative bias of self-attention alone. */
        public Config(int vocabSize, int sourceLength, int targetLength, int layers, int heads, int width,
                      int ffWidth, double dropout, int buckets, int maxDistance, double labelSmoothing) {
            this(vocabSize, sourceLength, targetLength, layers, heads, width, ffWidth, dropout, buckets, maxDistance,
                    labelSmoothing, false, false, 1);
        }

        public Config {
            if (!(biasScale > 0)) {
                throw new IllegalArgumentException("relative_bias_scale must be positive, got " + biasScale);
            }
            if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
                throw new IllegalArgumentException("label_smoothing must be in [0, 1), got " + labelSmoothing);
            }
            if (vocabSize < 4 || sourceLength < 2 || targetLength < 2 || layers < 1 || ffWidth < 1) {
                throw new IllegalArgumentException("vocab_size ≥ 4, source and target lengths ≥ 2, n_layer ≥ 1 and "
                        + "ff_width ≥ 1 are required");
            }
            if (buckets < 4 || buckets % 2 != 0 || maxDistance <= buckets / 2) {
                throw new IllegalArgumentException("relative_buckets must be even and ≥ 4, and relative_max_distance "
                        + "above half of it: got " + buckets + " and " + maxDistance);
            }
            new MultiHeadAttention.Spec(width, heads, false, PositionType.LEARNED, dropout); // validates them
        }

        /** The stacks' attention: causal in the decoder's self-attention, positions as a bias on the scores. */
        MultiHeadAttention.Spec attention(boolean causal) {
            return new MultiHeadAttention.Spec(width, heads, causal, PositionType.LEARNED, dropout);
        }
    }

    public static final String ENCODER_TOKENS = Seq2SeqBatch.ENCODER_TOKENS;
    public static final String ENCODER_MASK = Seq2SeqBatch.ENCODER_MASK;
    public static final String DECODER_TOKENS = Seq2SeqBatch.DECODER_TOKENS;
    public static final String TARGETS = Seq2SeqBatch.DECODER_TARGETS;
    public static final String TARGET_MASK = Seq2SeqBatch.DECODER_MASK;
    public static final String TARGET_WEIGHTS = Seq2SeqBatch.DECODER_WEIGHTS;
    /** The encoder's output after its final norm, [B·S, d]. */
    public static final String ENCODED = "encoded";
    public static final String LOGITS = "logits";
    public static final String LOSS = "loss";
    public static final String LOSS_SUM = "loss_sum";
    public static final String ROWS = "rows";
    /** Σ cross-entropy over real target tokens, and their count: {@code token_loss}. */
    public static final String TOKEN_LOSS_SUM = "token_loss_sum";
    public static final String TOKENS = "target_tokens";
    /** Real target tokens whose argmax is right: {@code token_accuracy}. */
    public static final String CORRECT = "correct";
    /** Cross-attention's relative position bias table, [buckets, H], shared by the decoder's layers. */
    static final String CROSS_BIAS = "decoder/cross/relative_bias";
    /** The padding id, which also starts every decoder input. */
    public static final int PAD = Seq2SeqBatch.PAD_ID;
    /** The end of a sequence, {@code </s>}: it closes every source and every target. */
    public static final int EOS = Seq2SeqBatch.EOS_ID;

    private static final double EPSILON = 1e-6;

    private final Config config;
    private final MixedPrecision precision;

    private T5(Config config, ParameterTable parameters, boolean training, MixedPrecision precision) {
        super(parameters, training ? config.dropout() : 0);
        this.config = config;
        this.precision = precision;
    }

    /** Builds the model with parameters initialised from {@code seed}; dropout only when {@code training}. */
    public static T5 build(Config config, DataType dataType, long seed, boolean training, MixedPrecision precision) {
        return new T5(config, parameters(config, new Initializer(seed, dataType)), training, precision);
    }

    /**
     * T5's parameters: the shared embedding, then each stack's relative bias, blocks and final norm. Initialised as
     * T5 (Mesh TensorFlow's defaults): the embedding N(0, 1), every matrix N(0, 1 / fan-in), so that each residual
     * branch adds about as much as the embedding it is added to (see the class comment).
     */
    static ParameterTable parameters(Config config, Initializer init) {
        ParameterTable table = new ParameterTable(init);
        int d = config.width();
        double widthStd = 1 / Math.sqrt(d);                 // fan-in d: q, k, v, the heads' merge (H·dₕ = d), w_in
        double ffStd = 1 / Math.sqrt(config.ffWidth());     // fan-in F: w_out
        table.normal("shared", 1.0, config.vocabSize(), d);          // [V, d]; N(0, 1) as T5, the head rescales
        for (String stack : new String[] {"encoder", "decoder"}) {
            boolean decoder = stack.equals("decoder");
            table.normal(stack + "/relative_bias", 0.02, config.buckets(), config.heads());       // [NB, H]
            if (decoder && config.crossBias()) {
                table.normal(CROSS_BIAS, 0.02, config.buckets(), config.heads());                 // [NB, H]
            }
            for (int layer = 0; layer < config.layers(); layer++) {
                String name = stack + "/" + layer;
                table.ones(name + "/norm_1/gain", d);
                MultiHeadAttention.SelfWeights.declare(table, name + "/self", config.attention(decoder), widthStd,
                        widthStd);
                if (decoder) {
                    table.ones(name + "/norm_cross/gain", d);
                    MultiHeadAttention.CrossWeights.declare(table, name + "/cross", d, d, widthStd, widthStd,
                            widthStd);
                }
                table.ones(name + "/norm_2/gain", d);
                table.normal(name + "/mlp/w_in", widthStd, d, config.ffWidth());                 // [d, F]
                table.normal(name + "/mlp/w_out", ffStd, config.ffWidth(), d);                   // [F, d]
            }
            table.ones(stack + "/norm_f/gain", d);
        }
        return table;
    }

    @Override
    protected void define(SameDiff sd, ParameterTable table, Dropout dropout) {
        int v = config.vocabSize();
        int s = config.sourceLength();
        int t = config.targetLength();
        int d = config.width();
        DataType type = table.dataType();

        SDVariable sourceTokens = sd.placeHolder(ENCODER_TOKENS, DataType.INT32, -1, s);              // [B, S]
        SDVariable sourceKeep = sd.placeHolder(ENCODER_MASK, type, -1, s);                            // [B, S]
        SDVariable decoderTokens = sd.placeHolder(DECODER_TOKENS, DataType.INT32, -1, t);             // [B, T]
        SDVariable targets = sd.placeHolder(TARGETS, DataType.INT32, -1, t);                          // [B, T]
        SDVariable weights = sd.placeHolder(TARGET_WEIGHTS, type, -1, t);                             // [B, T]
        SDVariable targetKeep = sd.placeHolder(TARGET_MASK, type, -1, t);                             // [B, T]
        SDVariable shared = table.var(sd, "shared");                                                  // [V, d]

        // Encoder: embeddings (one-hot × table: M2.1's gather has broken backprop), then the blocks.
        SDVariable x = dropout.apply(positioned(sd, "encoder", embed(sd, sourceTokens, shared, v), s),
                s, d);                                                                                // [B·S, d]
        SDVariable encoderBias = relativeBias(sd, table, "encoder", "encoder/relative_bias",
                s, s, true);                                                                          // [1, H, S, S]
        MultiHeadAttention bidirectional = new MultiHeadAttention(config.attention(false), precision);
        for (int layer = 0; layer < config.layers(); layer++) {
            String name = "encoder/" + layer;
            SDVariable h = rmsNorm(sd, x, table.var(sd, name + "/norm_1/gain"));                       // [B·S, d]
            x = x.add(dropout.apply(bidirectional.selfAttention(sd, name + "/self", h, s, sourceKeep,
                    MultiHeadAttention.SelfWeights.of(sd, table, name + "/self"), attentionDropout(dropout),
                    encoderBias).rows(), s, d));                                                       // [B·S, d]
            x = x.add(dropout.apply(feedForward(sd, name, x, table), s, d));                          // [B·S, d]
        }
        SDVariable encoded = dropout.apply(rmsNorm(sd, x, table.var(sd, "encoder/norm_f/gain")), s, d)
                .rename(ENCODED);                                                                     // [B·S, d]

        // Decoder: causal self-attention with its own relative bias, then cross-attention into the encoder.
        SDVariable y = dropout.apply(positioned(sd, "decoder", embed(sd, decoderTokens, shared, v), t),
                t, d);                                                                                // [B·T, d]
        SDVariable decoderBias = relativeBias(sd, table, "decoder", "decoder/relative_bias",
                t, t, false);                                                                         // [1, H, T, T]
        SDVariable crossBias = config.crossBias()
                ? relativeBias(sd, table, "decoder/cross", CROSS_BIAS, t, s, true) : null;             // [1, H, T, S]
        MultiHeadAttention causal = new MultiHeadAttention(config.attention(true), precision);
        for (int layer = 0; layer < config.layers(); layer++) {
            String name = "decoder/" + layer;
            SDVariable h = rmsNorm(sd, y, table.var(sd, name + "/norm_1/gain"));                       // [B·T, d]
            y = y.add(dropout.apply(causal.selfAttention(sd, name + "/self", h, t, null,
                    MultiHeadAttention.SelfWeights.of(sd, table, name + "/self"), attentionDropout(dropout),
                    decoderBias).rows(), t, d));                                                       // [B·T, d]
            h = rmsNorm(sd, y, table.var(sd, name + "/norm_cross/gain"));                              // [B·T, d]
            y = y.add(dropout.apply(bidirectional.crossAttention(sd, name + "/cross", h, t, encoded, s,
                    sourceKeep, MultiHeadAttention.CrossWeights.of(sd, table, name + "/cross"),
                    attentionDropout(dropout), crossBias).rows(), t, d));                              // [B·T, d]
            y = y.add(dropout.apply(feedForward(sd, name, y, table), t, d));                          // [B·T, d]
        }
        SDVariable decoded = dropout.apply(rmsNorm(sd, y, table.var(sd, "decoder/norm_f/gain")), t, d)
                .mul(1.0 / Math.sqrt(d));                                                             // [B·T, d]
        SDVariable logits = (precision.isFullPrecision() ? sd.mmul(decoded, shared, false, true, false)
                : precision.mmul(sd, decoded, shared, false, true)).rename(LOGITS);                    // [B·T, V]

        // Cross-entropy by hand: M2.1's sparse softmax CE ignores the upstream gradient (DESIGN.md §2).
        SDVariable picked = sd.oneHot(sd.reshape(targets, -1), v, -1, 1.0, 0.0, type);               // [B·T, V]
        SDVariable logProbabilities = logSoftmax(sd, logits);                                         // [B·T, V]
        SDVariable crossEntropy = logProbabilities.mul(picked).sum(1).neg();                          // [B·T]
        double epsilon = config.labelSmoothing();
        SDVariable smoothed = epsilon == 0 ? crossEntropy                                             // [B·T]
                : logProbabilities.mul(sd.oneHot(sd.reshape(targets, -1), v, -1, 1.0 - epsilon + epsilon / v,
                        epsilon / v, type)).sum(1).neg();
        SDVariable realTargets = sd.reshape(targetKeep, -1);                                         // [B·T]
        SDVariable lossSum = smoothed.mul(sd.reshape(weights, -1)).sum(LOSS_SUM);                     // []
        SDVariable rows = sd.sizeAt(sourceTokens, 0).castTo(ROWS, type);                              // []: B
        lossSum.div(LOSS, rows);                                                                      // []
        sd.setLossVariables(LOSS);

        // Evaluation sums (off the loss's path). A guess is right when the target's logit is the row's largest.
        crossEntropy.mul(realTargets).sum(TOKEN_LOSS_SUM);                                            // []
        realTargets.sum(TOKENS);                                                                      // []: N
        SDVariable targetLogit = logits.mul(picked).sum(1);                                           // [B·T]
        sd.eq(targetLogit, sd.max(logits, 1)).castTo(type).mul(realTargets).sum(CORRECT);             // []
    }

    /**
     * The relative bias of table {@code name} for {@code queries} × {@code keys} positions, times
     * {@code biasScale}: [1, H, T, S].
     */
    private SDVariable relativeBias(SameDiff sd, ParameterTable table, String stack, String name, int queries,
                                    int keys, boolean bidirectional) {
        SDVariable bias = RelativePositions.bias(sd, stack, table.var(sd, name), queries, keys, bidirectional,
                config.maxDistance());                                                               // [1, H, T, S]
        return config.biasScale() == 1 ? bias : bias.mul(config.biasScale());
    }

    /** [B, L] ids → [B·L, d] rows of the table. */
    private static SDVariable embed(SameDiff sd, SDVariable tokens, SDVariable table, int vocab) {
        return sd.mmul(sd.reshape(sd.oneHot(tokens, vocab, -1, 1.0, 0.0, table.dataType()), -1, vocab), table);
    }

    /**
     * [B·L, d] token embeddings of a stack with L positions, plus the sinusoids of positions 0 … L−1 when the config
     * asks for absolute positions.
     */
    private SDVariable positioned(SameDiff sd, String stack, SDVariable embedded, int length) {
        if (!config.absolutePositions()) {
            return embedded;
        }
        int d = config.width();
        SDVariable sinusoid = sd.constant(stack + "/sinusoid", Nd4j.createFromArray(
                SinusoidalPositions.table(length, d)).castTo(embedded.dataType()));                 // [L, d]
        return sd.reshape(sd.reshape(embedded, -1, length, d).add(sinusoid), -1, d);                // [B·L, d]
    }

    private static Dropout attentionDropout(Dropout dropout) {
        return dropout.isActive() ? dropout : null;
    }

    /** RMSNorm (Zhang & Sennrich 2019), T5's LayerNorm: x / √(mean(x²) + ε) · gain, no centring, no bias. */
    static SDVariable rmsNorm(SameDiff sd, SDVariable x, SDVariable gain) {
        SDVariable meanSquare = x.mul(x).mean(true, 1);                                               // [N, 1]
        return x.mul(sd.math.pow(meanSquare.add(EPSILON), -0.5)).mul(gain);                           // [N, d]
    }

    /** The normed feed-forward branch: ReLU(RMSNorm(x) · W_in) · W_out, no biases. */
    private SDVariable feedForward(SameDiff sd, String name, SDVariable x, ParameterTable table) {
        SDVariable h = rmsNorm(sd, x, table.var(sd, name + "/norm_2/gain"));                           // [N, d]
        SDVariable inner = sd.nn.relu(precision.mmul(sd, h, table.var(sd, name + "/mlp/w_in"), false, false),
                0);                                                                                   // [N, F]
        return precision.mmul(sd, inner, table.var(sd, name + "/mlp/w_out"), false, false);           // [N, d]
    }

    /**
     * Weight decay on matrices: the shared embedding and every projection. Not on the norms' gains, the attention
     * biases, nor the relative-position tables (biases on the scores in all but name).
     */
    @Override
    public boolean decays(String name) {
        return name.equals("shared") || name.contains("/w_");
    }

    @Override
    public String loss() {
        return LOSS;
    }

    /** loss (per row, the objective), token_loss (per real target token), token_accuracy. */
    @Override
    public List<Metric> metrics() {
        return List.of(new Metric("loss", LOSS_SUM, ROWS), new Metric("token_loss", TOKEN_LOSS_SUM, TOKENS),
                new Metric("token_accuracy", CORRECT, TOKENS));
    }

    /** The arrays of a batch this model reads (the family's data sources fill them). */
    public static List<Batch.Field> layout(int sourceLength, int targetLength) {
        return Seq2SeqBatch.layout(sourceLength, targetLength);
    }

    /** The placeholders for rows [first, first + count): the batch's arrays, padded targets as 0 (weight 0). */
    @Override
    public Map<String, INDArray> feed(Batch batch, int first, int count) {
        int s = config.sourceLength();
        int t = config.targetLength();
        int[] targets = Arrays.copyOfRange(batch.ints(TARGETS), first * t, (first + count) * t);
        for (int i = 0; i < targets.length; i++) {
            targets[i] = Math.max(targets[i], PAD);                  // NO_TARGET: any id, its weight is 0
        }
        DataType type = parameters().dataType();
        return Map.of(ENCODER_TOKENS, ints(batch.ints(ENCODER_TOKENS), first, count, s),
                ENCODER_MASK, floats(batch.floats(ENCODER_MASK), first, count, s, type),
                DECODER_TOKENS, ints(batch.ints(DECODER_TOKENS), first, count, t),
                TARGETS, Nd4j.createFromArray(targets).reshape(count, t),
                TARGET_MASK, floats(batch.floats(TARGET_MASK), first, count, t, type),
                TARGET_WEIGHTS, floats(batch.floats(TARGET_WEIGHTS), first, count, t, type));
    }

    private static INDArray ints(int[] values, int first, int count, int width) {
        return Nd4j.createFromArray(Arrays.copyOfRange(values, first * width, (first + count) * width))
                .reshape(count, width);
    }

    private static INDArray floats(float[] values, int first, int count, int width, DataType type) {
        return Nd4j.createFromArray(Arrays.copyOfRange(values, first * width, (first + count) * width))
                .reshape(count, width).castTo(type);
    }

    /** The fused step has no cross-attention, no relative bias on the scores and no RMSNorm yet. */
    @Override
    public String fusedGap(MixedPrecision precision) {
        return "an encoder–decoder (cross-attention, T5's relative position bias and RMSNorm are not in the fused "
                + "block yet)";
    }

    @Override
    public FusedModel fused(Map<String, Integer> offsets, int parameterCount, int maxRows, boolean bf16,
                            Kernels kernels) {
        throw new UnsupportedOperationException("t5 has no fused step: " + fusedGap(MixedPrecision.FP32));
    }

    public Config config() {
        return config;
    }
}
