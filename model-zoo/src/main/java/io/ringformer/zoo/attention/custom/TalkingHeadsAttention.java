package io.ringformer.zoo.attention.custom;

import io.ringformer.zoo.ParameterTable;
import io.ringformer.zoo.attention.Attention;
import io.ringformer.zoo.attention.AttentionInputs;
import io.ringformer.zoo.attention.AttentionType;
import io.ringformer.zoo.attention.ScaledDotProductAttention;
import io.ringformer.zoo.family.Settings;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * {@code talking_heads} (Shazeer et al. 2020, "Talking-Heads Attention"): softmax attention whose heads talk to
 * each other, once before the softmax and once after it, through two learned [H, H] matrices:
 *
 * <pre>
 *   L′[h′] = Σ_h L[h]·P_logits[h, h′]          L = q·kᵀ/√dh, per head: [B, H, T, S]
 *   W      = softmax(L′ + bias)                 the masks and ALiBi, after the mixing
 *   W′[h]  = Σ_h′ W[h′]·P_weights[h′, h]
 *   out    = W′·v
 * </pre>
 *
 * Both matrices start as the identity, so a fresh layer is exactly {@code full} attention, and are not decayed
 * (their names hold no {@code /w_}). The masks are added after the first mixing: mixing −1e9 across heads with
 * weights that need not sum to 1 would move the blocker; after the softmax a blocked key is 0 in every head, and
 * stays 0 through the second mixing.
 *
 * <p>This class is the worked example of docs/custom-attention.md: it uses only the public extension point
 * ({@link AttentionType}, {@link Attention}, {@link AttentionInputs}) and is registered by one line in
 * {@code META-INF/services/io.ringformer.zoo.attention.AttentionType}, as a type in a user's own jar would be.
 */
public final class TalkingHeadsAttention implements AttentionType, Attention {

    @Override
    public String name() {
        return "talking_heads";
    }

    @Override
    public String description() {
        return "heads mixed by learned [H, H] matrices before and after the softmax";
    }

    @Override
    public Attention configure(Settings config) {
        return this;
    }

    @Override
    public void declare(ParameterTable table, String layer, int width, int heads, double outStd) {
        table.values(layer + "/talk_logits", identity(heads), heads, heads);                  // [H, H]
        table.values(layer + "/talk_weights", identity(heads), heads, heads);                 // [H, H]
    }

    @Override
    public ScaledDotProductAttention.Output attend(SameDiff sd, String name, AttentionInputs in) {
        SDVariable scores = sd.mmul(in.q().mul(1.0 / Math.sqrt(in.headDim())), in.k(), false, true, false);
        SDVariable logits = mixHeads(sd, scores, in.own("talk_logits"), in);                 // [B, H, T, S]
        if (in.bias() != null) {
            logits = logits.add(in.bias());                                                   // [B, H, T, S]
        }
        SDVariable weights = sd.nn.softmax(name + "/weights", logits, 3);                     // [B, H, T, S]
        SDVariable talked = mixHeads(sd, weights, in.own("talk_weights"), in);               // [B, H, T, S]
        SDVariable values = sd.mmul(in.beforeValues().apply(talked), in.v());               // [B, H, T, dh]
        return new ScaledDotProductAttention.Output(values, weights);
    }

    /** x [B, H, T, S] → Σ_h x[h]·mix[h, h′], by one GEMM on x laid out [B·T·S, H]. */
    private static SDVariable mixHeads(SameDiff sd, SDVariable x, SDVariable mix, AttentionInputs in) {
        SDVariable rows = sd.reshape(sd.permute(x, 0, 2, 3, 1), -1, in.heads());              // [B·T·S, H]
        SDVariable mixed = sd.reshape(rows.mmul(mix), -1, in.length(), in.keyLength(), in.heads());
        return sd.permute(mixed, 0, 3, 1, 2);                                                 // [B, H, T, S]
    }

    private static double[] identity(int n) {
        double[] values = new double[n * n];
        for (int i = 0; i < n; i++) {
            values[i * n + i] = 1;
        }
        return values;
    }
}
