package io.ringformer.zoo.attention;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * softmax(q·kᵀ/√d + bias)·v, written from primitives (Vaswani et al. 2017, eq. 1).
 *
 * <p>M2.1's {@code sd.nn.dotProductAttention} rejects a 3-D causal mask, so masks and position biases arrive here
 * already folded into one additive {@code bias}: 0 where a key may be seen, {@link AttentionMasks#BLOCKED} where
 * it may not. A finite blocker (not -inf) keeps a fully masked row finite: it becomes uniform, never NaN.
 */
public final class ScaledDotProductAttention {

    /** The attended values and the attention weights (the map a person can look at). */
    public record Output(SDVariable values, SDVariable weights) {}

    private ScaledDotProductAttention() {}

    /**
     * @param q    [B, H, T, dh]
     * @param k    [B, H, S, dh]
     * @param v    [B, H, S, dh]
     * @param bias    additive, broadcastable to [B, H, T, S], or null
     * @param dropout probability of dropping an attention weight (inverted dropout), 0 for none
     */
    public static Output apply(SameDiff sd, String name, SDVariable q, SDVariable k, SDVariable v,
                               SDVariable bias, int headDim, double dropout) {
        SDVariable scaled = q.mul(1.0 / Math.sqrt(headDim));                      // [B, H, T, dh]; T·dh < T·S work
        SDVariable scores = sd.mmul(scaled, k, false, true, false);               // [B, H, T, S]
        if (bias != null) {
            scores = scores.add(bias);                                            // [B, H, T, S]
        }
        SDVariable weights = sd.nn.softmax(name + "/weights", scores, 3);         // [B, H, T, S]
        SDVariable attend = dropout > 0 ? sd.nn.dropoutInverted(weights, dropout) : weights;
        SDVariable values = sd.mmul(attend, v);                                   // [B, H, T, dh]
        return new Output(values, weights);
    }
}
