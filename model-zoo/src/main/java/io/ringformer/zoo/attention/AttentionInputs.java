package io.ringformer.zoo.attention;

import io.ringformer.zoo.MixedPrecision;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.nd4j.autodiff.samediff.SDVariable;

/**
 * What a layer hands its {@link Attention}.
 *
 * @param q            [B, H, T, dh] queries, RoPE applied
 * @param k            [B, H, S, dh] keys, RoPE applied
 * @param v            [B, H, S, dh] values
 * @param bias         additive scores bias broadcastable to [B, H, T, S] (causal mask, ALiBi and padding folded
 *                     together: 0 or {@link AttentionMasks#BLOCKED} plus ALiBi's slopes), or null
 * @param keep         [B, S] padding of the keys, 1 real and 0 pad, or null (already inside {@code bias})
 * @param causal       whether query t may see only keys s ≤ t (already inside {@code bias})
 * @param length       T
 * @param keyLength    S (T for self-attention)
 * @param heads        H
 * @param headDim      dh
 * @param beforeValues what the weights pass through on their way to the values (attention dropout)
 * @param precision    the compute type of the matmuls
 * @param x            [B·T, d] the layer's input rows (after its LayerNorm), for types with projections of their own
 * @param own          the attention's own parameters of this layer by suffix ({@link Attention#declare})
 */
public record AttentionInputs(SDVariable q, SDVariable k, SDVariable v, SDVariable bias, SDVariable keep,
                              boolean causal, int length, int keyLength, int heads, int headDim,
                              UnaryOperator<SDVariable> beforeValues, MixedPrecision precision, SDVariable x,
                              Function<String, SDVariable> own) {

    /** The attention's own parameter {@code <layer>/<suffix>} ({@link Attention#declare}). */
    public SDVariable own(String suffix) {
        return own.apply(suffix);
    }

    public boolean self() {
        return length == keyLength;
    }
}
