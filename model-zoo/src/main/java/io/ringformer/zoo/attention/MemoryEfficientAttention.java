package io.ringformer.zoo.attention;

import io.ringformer.zoo.family.ConfigKey;
import io.ringformer.zoo.family.ConfigKey.Type;
import io.ringformer.zoo.family.Settings;
import io.ringformer.zoo.fused.ChunkedAttention;
import io.ringformer.zoo.fused.FusedAttention;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code memory_efficient}: exact softmax attention over chunks of {@code attention.chunk} keys with an online
 * softmax (a running max and a running sum, as FlashAttention computes it), so the same numbers as {@code full}
 * without a [T, T] score matrix.
 *
 * <p>The fused step ({@link ChunkedAttention}) is the real thing: its forward pass never holds more than one
 * chunk's scores, and its backward pass recomputes the probabilities from each row's saved log-sum-exp, so
 * training memory grows as T·d, not T². This SameDiff graph is its reference: the same recurrence over the same
 * chunks, differentiated by SameDiff, which keeps every chunk's scores for its backward pass (so on this backend
 * the memory is no better than {@code full}'s).
 */
public final class MemoryEfficientAttention implements AttentionType {

    @Override
    public String name() {
        return "memory_efficient";
    }

    @Override
    public String description() {
        return "exact softmax over key chunks with an online softmax, O(T) memory when fused";
    }

    @Override
    public List<ConfigKey> keys() {
        return List.of(new ConfigKey("attention.chunk", Type.INT, 128, "memory_efficient: keys per chunk of the "
                + "online softmax", 1, 1 << 20));
    }

    @Override
    public Attention configure(Settings config) {
        return new Chunked(config.getInt("attention.chunk"));
    }

    /** The online softmax over chunks of {@code chunk} keys. */
    public static final class Chunked implements Attention {

        private final int chunk;

        public Chunked(int chunk) {
            this.chunk = chunk;
        }

        @Override
        public String name() {
            return "memory_efficient";
        }

        @Override
        public FusedAttention.Factory fused() {
            return context -> new ChunkedAttention(context, chunk);
        }

        /**
         * <pre>
         * for each chunk c of keys:  S = q·K_cᵀ/√dh + bias_c;  m' = max(m, rowmax S);  P = e^(S − m')
         *                            l ← l·e^(m − m') + rowsum P;  o ← o·e^(m − m') + P·V_c;  m ← m'
         * values = o / l;  weights = e^(S − m − ln l), chunk by chunk
         * </pre>
         */
        @Override
        public ScaledDotProductAttention.Output attend(SameDiff sd, String name, AttentionInputs in) {
            SDVariable scaled = in.q().mul(1.0 / Math.sqrt(in.headDim()));                // [B, H, T, dh]
            SDVariable bias = in.bias() == null ? null : in.bias().add(                  // [.., .., T, S]
                    sd.constant(name + "/rank4", Nd4j.zeros(in.q().dataType(), 1, 1, 1, 1)));
            SDVariable max = null;                                                        // m [B, H, T, 1]
            SDVariable sum = null;                                                        // l [B, H, T, 1]
            SDVariable out = null;                                                        // o [B, H, T, dh]
            List<SDVariable> chunkScores = new ArrayList<>();
            for (int c0 = 0; c0 < in.keyLength(); c0 += chunk) {
                SDIndex keys = SDIndex.interval(c0, Math.min(c0 + chunk, in.keyLength()));
                SDVariable k = in.k().get(SDIndex.all(), SDIndex.all(), keys, SDIndex.all()); // [B, H, w, dh]
                SDVariable v = in.v().get(SDIndex.all(), SDIndex.all(), keys, SDIndex.all()); // [B, H, w, dh]
                SDVariable s = in.precision().mmul(sd, scaled, k, false, true);           // [B, H, T, w]
                if (bias != null) {
                    s = s.add(bias.get(SDIndex.all(), SDIndex.all(), SDIndex.all(), keys));
                }
                chunkScores.add(s);
                SDVariable chunkMax = sd.max(s, true, 3);                                 // [B, H, T, 1]
                SDVariable newMax = max == null ? chunkMax : sd.math.max(max, chunkMax);
                SDVariable p = sd.math.exp(s.sub(newMax));                                // [B, H, T, w]
                SDVariable pv = in.precision().mmul(sd, in.beforeValues().apply(p), v, false, false); // [B, H, T, dh]
                if (max == null) {
                    sum = sd.sum(p, true, 3);
                    out = pv;
                } else {
                    SDVariable rescale = sd.math.exp(max.sub(newMax));                    // [B, H, T, 1]
                    sum = sum.mul(rescale).add(sd.sum(p, true, 3));
                    out = out.mul(rescale).add(pv);
                }
                max = newMax;
            }
            SDVariable logSumExp = max.add(sd.math.log(sum));                             // [B, H, T, 1]
            SDVariable[] weights = new SDVariable[chunkScores.size()];
            for (int i = 0; i < weights.length; i++) {
                weights[i] = sd.math.exp(chunkScores.get(i).sub(logSumExp));             // [B, H, T, w]
            }
            SDVariable map = weights.length == 1 ? weights[0] : sd.concat(3, weights);
            return new ScaledDotProductAttention.Output(out.div(sum), sd.identity(name + "/weights", map));
        }
    }
}
