package io.ringformer.zoo.attention;

import io.ringformer.zoo.ParameterTable;
import io.ringformer.zoo.family.ConfigKey;
import io.ringformer.zoo.family.ConfigKey.Type;
import io.ringformer.zoo.family.Settings;
import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code simplicial}: 2-simplicial (trilinear) attention (Roy et al. 2025, "Fast and Simplex: 2-Simplicial
 * Attention in Triton"; after Clift et al. 2019). A query attends to pairs of keys: with a second key and value
 * projection of the layer input, k′ = x·W_k′ and v′ = x·W_v′ (the layer's own {@code w_kv2}, {@code b_kv2}),
 *
 * <pre>
 *   A_ijk = Σ_d q_i[d]·k_j[d]·k′_k[d] / √dh     over j in (i − w1, i] and k in (i − w2, i]
 *   S_ijk = softmax over the w1·w2 pairs (j, k)
 *   out_i = Σ_jk S_ijk · (v_j ∘ v′_k)
 * </pre>
 *
 * which costs O(T·w1·w2·dh) (w1 = {@code attention.window}, w2 = {@code attention.window2}). Causal models only:
 * both windows look back.
 *
 * <p><b>Scaling.</b> 1/√dh, as in dot-product attention: with q, k and k′ of unit-variance independent entries, the
 * trilinear sum has d terms of unit variance, so its standard deviation is √dh, the same as a dot product's; the
 * factor keeps the logits O(1) at initialisation whatever the head width, and keeps the softmax out of
 * saturation. (Roy et al. scale by 1/√d too.)
 *
 * <p>This graph gathers the windows with constant selection matrices ([T·w, T]) and materialises [B, H, T, w1,
 * w2] logits; it has no attention dropout, no padding mask (causal right padding needs none) and no position
 * bias: ALiBi and RoPE are refused (RoPE would turn q and k but not k′).
 */
public final class SimplicialAttention implements AttentionType {

    @Override
    public String name() {
        return "simplicial";
    }

    @Override
    public String description() {
        return "2-simplicial: each query attends to pairs of keys in two causal windows";
    }

    @Override
    public List<ConfigKey> keys() {
        return List.of(new ConfigKey("attention.window2", Type.INT, 8, "simplicial: the second key window w2 (the "
                + "first is attention.window)", 1, 1 << 16));
    }

    @Override
    public Attention configure(Settings config) {
        return new Trilinear(config.getInt("attention.window"), config.getInt("attention.window2"));
    }

    /** The configured attention: windows w1 and w2. */
    public record Trilinear(int window1, int window2) implements Attention {

        @Override
        public String name() {
            return "simplicial";
        }

        @Override
        public void declare(ParameterTable table, String layer, int width, int heads, double outStd) {
            table.normal(layer + "/w_kv2", 0.02, width, 2L * width);                          // [d, 2d]: k′, v′
            table.zeros(layer + "/b_kv2", 2L * width);                                        // [2d]
        }

        @Override
        public void check(PositionType positions, boolean causal) {
            if (!causal) {
                throw new IllegalArgumentException("simplicial attention looks back over two causal windows: it "
                        + "serves causal models (gpt), not bidirectional ones");
            }
            if (positions == PositionType.ALIBI || positions == PositionType.ROPE) {
                throw new IllegalArgumentException("simplicial attention takes no " + positions.name().toLowerCase(java.util.Locale.ROOT)
                        + " positions (its second keys carry none); use model.positions learned or sinusoidal");
            }
        }

        @Override
        public ScaledDotProductAttention.Output attend(SameDiff sd, String name, AttentionInputs in) {
            int t = in.length();
            int dh = in.headDim();
            int heads = in.heads();
            SDVariable kv2 = in.x().mmul(in.own("w_kv2")).add(in.own("b_kv2"));             // [B·T, 2d]
            SDVariable[] split = sd.unstack(sd.permute(sd.reshape(kv2, -1, t, 2, heads, dh), 2, 0, 3, 1, 4), 0, 2);
            SDVariable k1 = window(sd, name + "/k", in.k(), t, window1, heads, dh);          // [B, H, T, w1, dh]
            SDVariable v1 = window(sd, name + "/v", in.v(), t, window1, heads, dh);          // [B, H, T, w1, dh]
            SDVariable k2 = window(sd, name + "/k2", split[0], t, window2, heads, dh);      // [B, H, T, w2, dh]
            SDVariable v2 = window(sd, name + "/v2", split[1], t, window2, heads, dh);      // [B, H, T, w2, dh]

            SDVariable qk = sd.expandDims(in.q().mul(1.0 / Math.sqrt(dh)), 3).mul(k1);      // [B, H, T, w1, dh]
            SDVariable logits = sd.mmul(qk, k2, false, true, false)                          // [B, H, T, w1, w2]
                    .add(sd.constant(name + "/pairs", Nd4j.createFromArray(pairMask(t)).castTo(qk.dataType())));
            SDVariable pairs = sd.nn.softmax(sd.reshape(logits, -1, heads, t, window1 * window2), 3);
            SDVariable s = sd.reshape(pairs, -1, heads, t, window1, window2);               // S [B, H, T, w1, w2]
            SDVariable mixed = sd.mmul(s, v2);                                                // [B, H, T, w1, dh]
            SDVariable values = sd.sum(v1.mul(mixed), 3);                                     // [B, H, T, dh]
            return new ScaledDotProductAttention.Output(values, map(sd, name, s, t));
        }

        /** Blocked where a window reaches before position 0: [T, w1, w2]. */
        private float[][][] pairMask(int t) {
            float[][][] mask = new float[t][window1][window2];
            for (int i = 0; i < t; i++) {
                for (int a = 0; a < window1; a++) {
                    for (int b = 0; b < window2; b++) {
                        mask[i][a][b] = i - a < 0 || i - b < 0 ? (float) AttentionMasks.BLOCKED : 0f;
                    }
                }
            }
            return mask;
        }

        /**
         * x [B, H, T, dh] → [B, H, T, w, dh] holding x[i − a] at (i, a), zeros before position 0: one GEMM with a
         * constant selection matrix [T·w, T] on x laid out [T, B·H·dh].
         */
        private static SDVariable window(SameDiff sd, String name, SDVariable x, int t, int w, int heads, int dh) {
            float[][] select = new float[t * w][t];
            for (int i = 0; i < t; i++) {
                for (int a = 0; a < w && i - a >= 0; a++) {
                    select[i * w + a][i - a] = 1f;
                }
            }
            SDVariable rows = sd.reshape(sd.permute(x, 2, 0, 1, 3), t, -1);                  // [T, B·H·dh]
            SDVariable picked = sd.constant(name + "/window", Nd4j.createFromArray(select).castTo(x.dataType()))
                    .mmul(rows);                                                              // [T·w, B·H·dh]
            return sd.permute(sd.reshape(picked, t, w, -1, heads, dh), 2, 3, 0, 1, 4);        // [B, H, T, w, dh]
        }

        /** The weight each key j gets, summed over the second keys: Σ_k S_ijk placed at j = i − a, [B, H, T, T]. */
        private SDVariable map(SameDiff sd, String name, SDVariable s, int t) {
            SDVariable first = sd.sum(s, 4);                                                  // [B, H, T, w1]
            float[][][] place = new float[t][window1][t];
            for (int i = 0; i < t; i++) {
                for (int a = 0; a < window1 && i - a >= 0; a++) {
                    place[i][a][i - a] = 1f;
                }
            }
            SDVariable spread = sd.expandDims(first, 4).mul(sd.constant(name + "/place",
                    Nd4j.createFromArray(place).castTo(s.dataType())));                      // [B, H, T, w1, T]
            return sd.sum(name + "/weights", spread, 3);                                      // [B, H, T, T]
        }
    }
}
