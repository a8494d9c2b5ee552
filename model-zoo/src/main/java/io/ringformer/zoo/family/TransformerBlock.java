package io.ringformer.zoo.family;

import io.ringformer.zoo.Dropout;
import io.ringformer.zoo.Initializer;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.attention.MultiHeadAttention;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * The pre-LayerNorm transformer block every family that uses the standard block builds its graph from (GPT-2's
 * shape): {@code x + Attn(LN₁(x))}, then {@code x + MLP(LN₂(x))} with a 4·d GELU MLP. What differs between
 * families is a parameter, not a branch: the attention's mask kind (causal for GPT, a padding mask or none for the
 * encoders) and its positions are in the {@link MultiHeadAttention.Spec}, the padding mask is an argument.
 *
 * <p>Variable names are {@code <name>/ln_1/gain}, {@code <name>/attn/w_qkv}, {@code <name>/mlp/w_fc}, …: the fused
 * steps find their parameters by these names.
 */
public final class TransformerBlock {

    private final SameDiff sd;
    private final MultiHeadAttention attention;
    private final MixedPrecision precision;
    private final Dropout dropout;
    private final int width;
    private final double residualStd;

    /**
     * @param residualStd the initial std of the two residual projections (GPT-2 §2.3: 0.02 / √(2·layers))
     */
    public TransformerBlock(SameDiff sd, MultiHeadAttention attention, MixedPrecision precision, Dropout dropout,
                            double residualStd) {
        this.sd = sd;
        this.attention = attention;
        this.precision = precision;
        this.dropout = dropout;
        this.width = attention.spec().width();
        this.residualStd = residualStd;
    }

    /** One block's output and its attention weights [B, H, T, T] (an attention map to look at). */
    public record Output(SDVariable rows, SDVariable attentionWeights) {}

    /**
     * @param x    [B·T, d]
     * @param t    T, the rows of one sequence
     * @param keep [B, T] padding mask (1 real, 0 pad), or null
     * @return [B·T, d]
     */
    public Output apply(String name, SDVariable x, int t, SDVariable keep, Initializer init) {
        int d = width;
        SDVariable h = layerNorm(sd, name + "/ln_1", x, d, init);                             // [B·T, d]
        MultiHeadAttention.Output attended = attention.selfAttention(sd, name + "/attn", h, t, keep,
                MultiHeadAttention.SelfWeights.create(sd, name + "/attn", d, init, residualStd),
                dropout.isActive() ? dropout : null);
        x = x.add(dropout.apply(attended.rows(), t, d));                                      // [B·T, d]

        h = layerNorm(sd, name + "/ln_2", x, d, init);                                        // [B·T, d]
        SDVariable up = precision.linear(sd, null, h,
                sd.var(name + "/mlp/w_fc", init.normal(0.02, d, 4L * d)),
                sd.var(name + "/mlp/b_fc", init.zeros(4L * d)));                              // [B·T, 4d]
        SDVariable down = precision.linear(sd, null, gelu(sd, up),
                sd.var(name + "/mlp/w_proj", init.normal(residualStd, 4L * d, d)),
                sd.var(name + "/mlp/b_proj", init.zeros(d)));                                 // [B·T, d]
        return new Output(x.add(dropout.apply(down, t, d)), attended.weights());              // [B·T, d]
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

    /** LayerNorm over the last axis with a gain (ones) and a bias (zeros) called {@code <name>/gain}, … */
    public static SDVariable layerNorm(SameDiff sd, String name, SDVariable x, int width, Initializer init) {
        return sd.nn.layerNorm(x, sd.var(name + "/gain", init.ones(width)),
                sd.var(name + "/bias", init.zeros(width)), false, 1);
    }
}
