package io.ringformer.zoo.family;

import io.ringformer.zoo.Dropout;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.ParameterTable;
import io.ringformer.zoo.attention.MultiHeadAttention;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * The pre-LayerNorm transformer block every family that uses the standard block builds its graph from (GPT-2's
 * shape): {@code x + Attn(LN₁(x))}, then {@code x + MLP(LN₂(x))} with a 4·d GELU MLP. What differs between
 * families is a parameter, not a branch: the attention's mask kind (causal for GPT, a padding mask or none for the
 * encoders) and its positions are in the {@link MultiHeadAttention.Spec}, the padding mask is an argument.
 *
 * <p>A family declares each block's parameters ({@link #declare}, with the residual projections' initial std, GPT-2
 * §2.3: 0.02 / √(2·layers)) before it builds a graph. Variable names are {@code <name>/ln_1/gain},
 * {@code <name>/attn/w_qkv}, {@code <name>/mlp/w_fc}, …: the fused steps find their parameters by these names.
 */
public final class TransformerBlock {

    private final SameDiff sd;
    private final MultiHeadAttention attention;
    private final MixedPrecision precision;
    private final Dropout dropout;
    private final int width;

    /** A block builder for graph {@code sd}; the parameters come from a {@link ParameterTable} ({@link #declare}). */
    public TransformerBlock(SameDiff sd, MultiHeadAttention attention, MixedPrecision precision, Dropout dropout) {
        this.sd = sd;
        this.attention = attention;
        this.precision = precision;
        this.dropout = dropout;
        this.width = attention.spec().width();
    }

    /**
     * The graph variable holding block {@code layer}'s attention weights [B, H, T, T] in every family's graph (the
     * attention names them {@code <layer>/attn/weights}).
     */
    public static String attentionMap(int layer) {
        return "h" + layer + "/attn/weights";
    }

    /** One block's output and its attention weights [B, H, T, T] (an attention map to look at). */
    public record Output(SDVariable rows, SDVariable attentionWeights) {}

    /**
     * Declares block {@code name}'s parameters, in the order {@link #apply} uses them: LayerNorm 1, the attention's
     * projections, LayerNorm 2, the MLP (GPT-2's initialisation; the two residual projections at {@code residualStd}).
     */
    public static void declare(ParameterTable table, String name, MultiHeadAttention.Spec attention,
                               double residualStd) {
        int d = attention.width();
        declareLayerNorm(table, name + "/ln_1", d);
        MultiHeadAttention.SelfWeights.declare(table, name + "/attn", attention, residualStd);
        declareLayerNorm(table, name + "/ln_2", d);
        table.normal(name + "/mlp/w_fc", 0.02, d, 4L * d);
        table.zeros(name + "/mlp/b_fc", 4L * d);
        table.normal(name + "/mlp/w_proj", residualStd, 4L * d, d);
        table.zeros(name + "/mlp/b_proj", d);
    }

    /**
     * @param x    [B·T, d]
     * @param t    T, the rows of one sequence
     * @param keep [B, T] padding mask (1 real, 0 pad), or null
     * @return [B·T, d]
     */
    public Output apply(String name, SDVariable x, int t, SDVariable keep, ParameterTable table) {
        SDVariable h = layerNorm(sd, name + "/ln_1", x, table);                               // [B·T, d]
        MultiHeadAttention.Output attended = attention.selfAttention(sd, name + "/attn", h, t, keep,
                MultiHeadAttention.SelfWeights.of(sd, table, name + "/attn"),
                dropout.isActive() ? dropout : null);
        x = x.add(dropout.apply(attended.rows(), t, width));                                  // [B·T, d]

        h = layerNorm(sd, name + "/ln_2", x, table);                                          // [B·T, d]
        SDVariable up = precision.linear(sd, null, h, table.var(sd, name + "/mlp/w_fc"),
                table.var(sd, name + "/mlp/b_fc"));                                           // [B·T, 4d]
        SDVariable down = precision.linear(sd, null, gelu(sd, up), table.var(sd, name + "/mlp/w_proj"),
                table.var(sd, name + "/mlp/b_proj"));                                         // [B·T, d]
        return new Output(x.add(dropout.apply(down, t, width)), attended.weights());          // [B·T, d]
    }

    /**
     * GELU as PyTorch's nn.GELU (and so nanoGPT) computes it, x·Φ(x) = ½·x·(1 + erf(x/√2)). M2.1's
     * {@code sd.nn.gelu} is the sigmoid approximation x·σ(1.702x) (0.8458 at x = 1 against 0.8413), and its
     * "precise" variant's derivative disagrees with its own forward pass, so GELU is written from primitives.
     */
    public static SDVariable gelu(SameDiff sd, SDVariable x) {
        return x.mul(0.5).mul(sd.math.erf(x.mul(1.0 / Math.sqrt(2.0))).add(1.0));
    }

    /**
     * log softmax over the last dimension of [N, C], from primitives: x − max − log Σ exp(x − max). M2.1's
     * {@code log_softmax} kernel gave BERT's NSP head ([B, 2]) different results from call to call — right on a
     * fresh session, wrong once SameDiff's array cache handed it a recycled output buffer — and ViT's loss depended
     * on which other outputs a call asked for; the heads of the encoder families use this instead.
     */
    public static SDVariable logSoftmax(SameDiff sd, SDVariable x) {
        SDVariable shifted = x.sub(sd.max(x, true, 1));                                       // [N, C]
        return shifted.sub(sd.math.log(sd.math.exp(shifted).sum(true, 1)));                  // [N, C]
    }

    /** Declares a LayerNorm's gain (ones) and bias (zeros), {@code <name>/gain} and {@code <name>/bias}. */
    public static void declareLayerNorm(ParameterTable table, String name, int width) {
        table.ones(name + "/gain", width);
        table.zeros(name + "/bias", width);
    }

    /** LayerNorm over the last axis with the declared gain and bias of {@code name}. */
    public static SDVariable layerNorm(SameDiff sd, String name, SDVariable x, ParameterTable table) {
        return sd.nn.layerNorm(x, table.var(sd, name + "/gain"), table.var(sd, name + "/bias"), false, 1);
    }
}
