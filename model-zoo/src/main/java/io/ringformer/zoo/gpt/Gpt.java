package io.ringformer.zoo.gpt;

import io.ringformer.zoo.Dropout;
import io.ringformer.zoo.Initializer;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.ParameterTable;
import io.ringformer.zoo.attention.Attention;
import io.ringformer.zoo.attention.AttentionTypes;
import io.ringformer.zoo.attention.MultiHeadAttention;
import io.ringformer.zoo.attention.PositionType;
import io.ringformer.zoo.attention.SinusoidalPositions;
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
 * A decoder-only transformer language model in the shape of GPT-2 (Radford et al. 2019) as nanoGPT writes it:
 * token (+ absolute position) embeddings, pre-LayerNorm blocks of causal multi-head attention and a GELU MLP,
 * a final LayerNorm, and an LM head tied to the token embedding (or, with {@code tiedHead} false, a matrix of its own,
 * {@code lm_head}).
 *
 * <p>The graph works on rows: activations are [B·T, d] between blocks, so every projection is one 2-D matmul.
 * The sequence length is the block size; shorter prompts are right-padded, which causal attention makes harmless.
 *
 * <p>Placeholders: {@value #TOKENS} [B, T] and {@value #TARGETS} [B, T] (int32; a target of −1 is ignored, as
 * PyTorch's ignore_index). Outputs: {@value #LOGITS} [B·T, V] and {@value #LOSS}, the mean cross-entropy over
 * the targets that are not ignored.
 */
public final class Gpt extends GraphModel {

    /**
     * @param vocabSize V
     * @param blockSize T, the context length
     * @param layers    number of transformer blocks
     * @param heads     attention heads per block
     * @param width     model width d
     * @param dropout   drop probability on embeddings, attention weights and residual branches while training
     * @param positions LEARNED, SINUSOIDAL, ROPE or ALIBI
     * @param tiedHead  whether the LM head is the token embedding (GPT-2) or a [V, d] matrix of its own
     * @param attention the blocks' attention type
     * @param init      GPT2 (N(0, 0.02²), residual projections scaled, zero biases) or PYTORCH (PyTorch's defaults)
     */
    public record Config(int vocabSize, int blockSize, int layers, int heads, int width, double dropout,
                         PositionType positions, boolean tiedHead, Attention attention, Init init) {
        public Config {
            if (vocabSize < 2 || blockSize < 1 || layers < 1) {
                throw new IllegalArgumentException("vocab_size ≥ 2, block_size ≥ 1 and n_layer ≥ 1 are required");
            }
            attentionSpec(width, heads, positions, dropout, attention);     // validates width, heads, dropout
        }

        /** With the head tied to the token embedding, as GPT-2, and full attention. */
        public Config(int vocabSize, int blockSize, int layers, int heads, int width, double dropout,
                      PositionType positions) {
            this(vocabSize, blockSize, layers, heads, width, dropout, positions, true);
        }

        /** With full attention. */
        public Config(int vocabSize, int blockSize, int layers, int heads, int width, double dropout,
                      PositionType positions, boolean tiedHead) {
            this(vocabSize, blockSize, layers, heads, width, dropout, positions, tiedHead, AttentionTypes.full());
        }

        /** With GPT-2's initialisation. */
        public Config(int vocabSize, int blockSize, int layers, int heads, int width, double dropout,
                      PositionType positions, boolean tiedHead, Attention attention) {
            this(vocabSize, blockSize, layers, heads, width, dropout, positions, tiedHead, attention, Init.GPT2);
        }

        MultiHeadAttention.Spec attentionSpec() {
            return attentionSpec(width, heads, positions, dropout, attention);
        }

        private static MultiHeadAttention.Spec attentionSpec(int width, int heads, PositionType positions,
                                                             double dropout, Attention attention) {
            return new MultiHeadAttention.Spec(width, heads, true, positions, dropout, attention);
        }

        /** The name of the LM head's [V, d] matrix: the token embedding's when tied. */
        public String headWeight() {
            return tiedHead ? "wte" : "lm_head";
        }
    }

    /**
     * The initial parameters. GPT2: weights and embeddings N(0, 0.02²), the residual projections N(0, 0.02²/2L),
     * biases 0 (GPT-2 §2.3, nanoGPT). PYTORCH: what the same model built from PyTorch modules starts from —
     * nn.Linear weights and biases U(±1/√fan_in), nn.Embedding N(0, 1). LayerNorms start at 1 and 0 in both.
     */
    public enum Init { GPT2, PYTORCH }

    public static final String TOKENS = "tokens";
    public static final String TARGETS = "targets";
    public static final String LOGITS = "logits";
    public static final String LOSS = "loss";
    /** The summed cross-entropy and the count of targets it sums: the evaluation's parts ({@link #metrics}). */
    public static final String LOSS_SUM = "loss_sum";
    public static final String LOSS_COUNT = "loss_count";

    private final Config config;
    private final MixedPrecision precision;
    private final List<String> attentionMaps = new ArrayList<>();

    private Gpt(Config config, ParameterTable parameters, boolean training, MixedPrecision precision) {
        super(parameters, training ? config.dropout() : 0);
        this.config = config;
        this.precision = precision;
    }

    /**
     * Builds the graph with parameters initialised from {@code seed}.
     *
     * @param training adds dropout when {@code config.dropout() > 0}, fed by {@link #dropoutNoise}; an inference
     *                 graph has none
     */
    public static Gpt build(Config config, DataType dataType, long seed, boolean training) {
        return build(config, dataType, seed, training, MixedPrecision.FP32);
    }

    /** As above, with every matmul in {@code precision}'s compute type (fp32 master weights stay in the graph). */
    public static Gpt build(Config config, DataType dataType, long seed, boolean training, MixedPrecision precision) {
        return new Gpt(config, parameters(config, new Initializer(seed, dataType)), training, precision);
    }

    /** GPT's parameters in the graph's order: embeddings, the blocks, the final LayerNorm, an untied head. */
    static ParameterTable parameters(Config config, Initializer init) {
        ParameterTable table = new ParameterTable(init);
        int d = config.width();
        table.normal("wte", 0.02, config.vocabSize(), d);                                     // [V, d]
        if (config.positions() == PositionType.LEARNED) {
            table.normal("wpe", 0.02, config.blockSize(), d);                                 // [T, d]
        }
        double residualStd = 0.02 / Math.sqrt(2.0 * config.layers()); // GPT-2 §2.3: scale residual projections
        for (int layer = 0; layer < config.layers(); layer++) {
            TransformerBlock.declare(table, "h" + layer, config.attentionSpec(), residualStd);
        }
        TransformerBlock.declareLayerNorm(table, "ln_f", d);
        if (!config.tiedHead()) {
            table.normal("lm_head", 0.02, config.vocabSize(), d);                             // [V, d]
        }
        if (config.init() == Init.PYTORCH) {
            for (ParameterTable.Parameter p : table.all()) {
                String name = p.name();
                if (name.equals("wte") || name.equals("wpe")) {
                    table.redrawNormal(name, 1.0);                                            // nn.Embedding
                } else if (name.equals("lm_head")) {
                    table.redrawUniform(name, 1 / Math.sqrt(d));                              // [V, d]: fan_in d
                } else if (name.contains("/w_") || name.contains("/b_")) {                   // nn.Linear
                    long fanIn = table.get(name.replace("/b_", "/w_")).shape()[0];            // weights are [in, out]
                    table.redrawUniform(name, 1 / Math.sqrt(fanIn));
                }
            }
        }
        return table;
    }

    @Override
    protected void define(SameDiff sd, ParameterTable table, Dropout dropout) {
        int v = config.vocabSize();
        int t = config.blockSize();
        int d = config.width();
        DataType type = table.dataType();
        MultiHeadAttention attention = new MultiHeadAttention(config.attentionSpec(), precision);

        SDVariable tokens = sd.placeHolder(TOKENS, DataType.INT32, -1, t);                     // [B, T]
        SDVariable targets = sd.placeHolder(TARGETS, DataType.INT32, -1, t);                   // [B, T]

        // Embeddings. One-hot × table, because M2.1's gather has broken backprop (DESIGN.md §2).
        SDVariable wte = table.var(sd, "wte");                                                // [V, d]
        SDVariable oneHot = sd.reshape(sd.oneHot(tokens, v, -1, 1.0, 0.0, type), -1, v);      // [B·T, V]
        SDVariable x = sd.mmul(oneHot, wte);                                                   // [B·T, d]
        if (config.positions() == PositionType.LEARNED) {
            SDVariable wpe = table.var(sd, "wpe");                                            // [T, d]
            x = sd.reshape(sd.reshape(x, -1, t, d).add(wpe), -1, d);                          // [B·T, d]
        } else if (config.positions() == PositionType.SINUSOIDAL) {
            // Vaswani et al. §3.4 scale embeddings by √d, or the unit-sized table drowns the 0.02-sized tokens.
            SDVariable sinusoid = sd.constant("sinusoid", Nd4j.createFromArray(SinusoidalPositions.table(t, d))
                    .castTo(type));                                                            // [T, d]
            x = sd.reshape(sd.reshape(x.mul(Math.sqrt(d)), -1, t, d).add(sinusoid), -1, d);   // [B·T, d]
        }
        x = dropout.apply(x, t, d);                                                           // [B·T, d]

        TransformerBlock block = new TransformerBlock(sd, attention, precision, dropout);
        for (int layer = 0; layer < config.layers(); layer++) {
            TransformerBlock.Output out = block.apply("h" + layer, x, t, null, table);          // [B·T, d]
            attentionMaps.add(out.attentionWeights().name());                                 // [B, H, T, T]
            x = out.rows();
        }
        x = TransformerBlock.layerNorm(sd, "ln_f", x, table);                                 // [B·T, d]
        SDVariable head = config.tiedHead() ? wte : table.var(sd, "lm_head");                // [V, d]
        SDVariable logits = precision.isFullPrecision()                                       // [B·T, V]
                ? sd.mmul(LOGITS, x, head, false, true, false)
                : sd.identity(LOGITS, precision.mmul(sd, x, head, false, true));

        // Cross-entropy by hand: M2.1's sparse softmax CE ignores the upstream gradient (DESIGN.md §2).
        SDVariable flatTargets = sd.reshape(targets, -1);                                     // [B·T]
        SDVariable picked = sd.oneHot(flatTargets, v, -1, 1.0, 0.0, type);                    // [B·T, V]; −1 → 0s
        SDVariable counted = sd.gte(flatTargets, 0).castTo(type).sum(LOSS_COUNT);             // []
        SDVariable logProbs = sd.nn.logSoftmax(logits);                                       // [B·T, V]
        SDVariable total = logProbs.mul(picked).sum().neg().rename(LOSS_SUM);                 // []
        total.div(LOSS, sd.math.max(counted, sd.constant(Nd4j.scalar(type, 1.0))));           // []
        sd.setLossVariables(LOSS);
    }

    /** Weight decay on matrices only: not on biases, LayerNorm gains or the position table. */
    @Override
    public boolean decays(String name) {
        return name.startsWith("w") && !name.equals("wpe") || name.contains("/w_") || name.equals("lm_head");
    }

    @Override
    public String loss() {
        return LOSS;
    }

    @Override
    public List<Metric> metrics() {
        return List.of(new Metric("loss", LOSS_SUM, LOSS_COUNT));
    }

    /** {@value #TOKENS} and {@value #TARGETS} of the batch's rows [first, first + count). */
    @Override
    public Map<String, INDArray> feed(Batch batch, int first, int count) {
        int t = config.blockSize();
        return Map.of(TOKENS, rows(batch.ints(TOKENS), first, count, t),
                TARGETS, rows(batch.ints(TARGETS), first, count, t));
    }

    static INDArray rows(int[] values, int first, int count, int width) {
        return Nd4j.createFromArray(java.util.Arrays.copyOfRange(values, first * width, (first + count) * width))
                .reshape(count, width);
    }

    @Override
    public String fusedGap(MixedPrecision precision) {
        return fusedGap(config.dropout(), config.attention());
    }

    @Override
    public FusedModel fused(Map<String, Integer> offsets, int parameterCount, int maxRows, boolean bf16,
                            Kernels kernels) {
        return new FusedGpt(config, offsets, parameterCount, maxRows, bf16, kernels);
    }

    public Config config() {
        return config;
    }

    /** The name of layer {@code layer}'s attention weights, [B, H, T, T]: an attention map to look at. */
    public String attentionMap(int layer) {
        graph();
        return attentionMaps.get(layer);
    }
}
