package io.ringformer.zoo.attention;

import io.ringformer.zoo.family.Settings;
import io.ringformer.zoo.fused.FusedAttention;
import io.ringformer.zoo.fused.FusedLinearAttention;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code linear} (Katharopoulos et al. 2020, "Transformers are RNNs"): the softmax kernel exp(q·k) replaced by
 * φ(q)·φ(k) with φ(x) = elu(x) + 1 (positive, so every weight is), which lets the sums over keys be taken once:
 *
 * <pre>
 *   bidirectional:  out_t = φ(q_t)ᵀ·Σ_s φ(k_s)·v_sᵀ  /  φ(q_t)·Σ_s φ(k_s)
 *   causal:         out_t = φ(q_t)ᵀ·S_t / φ(q_t)·z_t,  S_t = Σ_{s≤t} φ(k_s)·v_sᵀ,  z_t = Σ_{s≤t} φ(k_s)
 * </pre>
 *
 * The causal sums are prefix sums over t ([B, H, T, dh, dh] and [B, H, T, dh]): memory grows as T·dh², not T².
 * Padded keys get φ(k) = 0. There is no score matrix, so nothing for ALiBi to bias (refused) and no attention
 * dropout (the weights never reach the values as such); the 1/√dh of softmax attention has no role either, as
 * the normalisation divides any scale out. The denominator carries 1e-6 so that a row with no key at all (a query
 * whose keys are all padding) gives 0, not NaN.
 *
 * <p>The weights returned for maps, φ(q_t)·φ(k_s) / Σ_s′ φ(q_t)·φ(k_s′) over the allowed keys, are what the
 * output is a mixture by; they are [T, S] and made only when a map asks for them.
 */
public final class LinearAttention implements AttentionType, Attention {

    static final double EPS = 1e-6;

    @Override
    public String name() {
        return "linear";
    }

    @Override
    public String description() {
        return "elu+1 feature map, O(T) memory";
    }

    @Override
    public Attention configure(Settings config) {
        return this;
    }

    /** Run as a recurrence over a [dh, dh] state: {@link FusedLinearAttention}. */
    @Override
    public FusedAttention.Factory fused() {
        return FusedLinearAttention::new;
    }

    @Override
    public void check(PositionType positions, boolean causal) {
        if (positions == PositionType.ALIBI) {
            throw new IllegalArgumentException("linear attention has no score matrix for ALiBi to bias; use "
                    + "model.positions learned, sinusoidal or rope");
        }
    }

    @Override
    public ScaledDotProductAttention.Output attend(SameDiff sd, String name, AttentionInputs in) {
        SDVariable phiQ = sd.nn.elu(in.q()).add(1.0);                                 // [B, H, T, dh]
        SDVariable phiK = sd.nn.elu(in.k()).add(1.0);                                 // [B, H, S, dh]
        if (in.keep() != null) {
            phiK = phiK.mul(sd.reshape(in.keep(), -1, 1, in.keyLength(), 1));        // padded keys: φ = 0
        }
        SDVariable numerator;                                                         // [B, H, T, dh]
        SDVariable denominator;                                                       // [B, H, T, 1]
        if (in.causal()) {
            SDVariable outer = sd.expandDims(phiK, 4).mul(sd.expandDims(in.v(), 3));  // [B, H, T, dh, dh]
            SDVariable prefix = prefixSum(sd, outer, 0, 1, 2, 3, 4);                  // S_t [B, H, T, dh, dh]
            SDVariable z = prefixSum(sd, phiK, 0, 1, 2, 3);                           // z_t [B, H, T, dh]
            numerator = sd.sum(sd.expandDims(phiQ, 4).mul(prefix), 3);               // [B, H, T, dh]
            denominator = sd.sum(phiQ.mul(z), true, 3);                               // [B, H, T, 1]
        } else {
            SDVariable kv = sd.mmul(phiK, in.v(), true, false, false);               // [B, H, dh, dh]
            numerator = sd.mmul(phiQ, kv);                                            // [B, H, T, dh]
            SDVariable z = sd.sum(phiK, true, 2);                                     // [B, H, 1, dh]
            denominator = sd.sum(phiQ.mul(z), true, 3);                               // [B, H, T, 1]
        }
        SDVariable values = numerator.div(denominator.add(EPS));                      // [B, H, T, dh]
        return new ScaledDotProductAttention.Output(values, weights(sd, name, phiQ, phiK, in));
    }

    /**
     * The running sum along axis 2 (T). M2.1's cumsum back-propagates correctly along axis 0 only (checked by finite
     * differences), so T is moved to the front for it and back.
     *
     * @param axes the identity permutation of x's rank
     */
    private static SDVariable prefixSum(SameDiff sd, SDVariable x, int... axes) {
        int[] front = axes.clone();                                                   // [T, B, H, …]
        front[0] = 2;
        front[1] = 0;
        front[2] = 1;
        int[] back = axes.clone();                                                    // its inverse
        back[0] = 1;
        back[1] = 2;
        back[2] = 0;
        return sd.permute(sd.cumsum(sd.permute(x, front), false, false, 0), back);
    }

    /** The mixture weights for maps, [B, H, T, S]. */
    private static SDVariable weights(SameDiff sd, String name, SDVariable phiQ, SDVariable phiK, AttentionInputs in) {
        SDVariable kernel = sd.mmul(phiQ, phiK, false, true, false);                 // [B, H, T, S]
        if (in.causal()) {
            float[][] lower = new float[in.length()][in.keyLength()];
            int offset = in.keyLength() - in.length();
            for (int t = 0; t < in.length(); t++) {
                for (int s = 0; s <= Math.min(in.keyLength() - 1, t + offset); s++) {
                    lower[t][s] = 1f;
                }
            }
            kernel = kernel.mul(sd.constant(name + "/causal01", Nd4j.createFromArray(lower)
                    .castTo(phiQ.dataType())));                                       // [B, H, T, S]
        }
        SDVariable total = sd.sum(kernel, true, 3).add(EPS);                          // [B, H, T, 1]
        return sd.identity(name + "/weights", kernel.div(total));                     // [B, H, T, S]
    }
}
