package io.ringformer.zoo.attention;

import io.ringformer.zoo.MixedPrecision;
import java.util.function.UnaryOperator;
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
     */
    public static Output apply(SameDiff sd, String name, SDVariable q, SDVariable k, SDVariable v,
                               SDVariable bias, int headDim) {
        return apply(sd, name, q, k, v, bias, headDim, UnaryOperator.identity(), MixedPrecision.FP32);
    }

    /**
     * As above, with both matmuls in {@code precision}'s compute type (the softmax stays fp32) and the weights
     * passed through {@code beforeValues} (attention dropout) on their way to the values.
     */
    public static Output apply(SameDiff sd, String name, SDVariable q, SDVariable k, SDVariable v,
                               SDVariable bias, int headDim, UnaryOperator<SDVariable> beforeValues,
                               MixedPrecision precision) {
        SDVariable scaled = q.mul(1.0 / Math.sqrt(headDim));                      // [B, H, T, dh]; T·dh < T·S work
        SDVariable scores = precision.mmul(sd, scaled, k, false, true);             // [B, H, T, S]
        if (bias != null) {
            scores = scores.add(bias);                                            // [B, H, T, S]
        }
        SDVariable weights = sd.nn.softmax(name + "/weights", scores, 3);         // [B, H, T, S]
        SDVariable attend = beforeValues.apply(weights);                            // [B, H, T, S]
        SDVariable values = precision.mmul(sd, attend, v, false, false);          // [B, H, T, dh]
        return new Output(values, weights);
    }
}
