package io.ringformer.zoo.attention;

import io.ringformer.zoo.family.ConfigKey;
import io.ringformer.zoo.family.ConfigKey.Type;
import io.ringformer.zoo.family.Settings;
import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code sliding_window} (Longformer, Beltagy et al. 2020; Mistral 7B): full softmax attention restricted to a band
 * of {@code attention.window} keys. A causal query t sees keys t − w < s ≤ t; a bidirectional one sees |t − s| < w.
 * The first {@code attention.global_tokens} positions are global: they see every key and every query sees them
 * (BERT's and ViT's {@code [CLS]}; the masks of causality and padding still apply). Self-attention only.
 *
 * <p>The band is one more additive mask folded into the scores' bias, so a key outside it gets a weight of exactly
 * 0, and with it no influence on the output and no gradient. This graph still computes the [T, T] scores: it is
 * the reference for the pattern, not a saving in memory.
 */
public final class SlidingWindowAttention implements AttentionType {

    @Override
    public String name() {
        return "sliding_window";
    }

    @Override
    public String description() {
        return "each query sees attention.window neighbouring keys";
    }

    @Override
    public List<ConfigKey> keys() {
        return List.of(
                new ConfigKey("attention.window", Type.INT, 16, "sliding_window: keys a query sees on each side, "
                        + "itself included", 1, 1 << 20),
                new ConfigKey("attention.global_tokens", Type.INT, 0, "sliding_window: leading positions that see "
                        + "and are seen by every position", 0, 1 << 20));
    }

    @Override
    public Attention configure(Settings config) {
        return new Window(config.getInt("attention.window"), config.getInt("attention.global_tokens"));
    }

    /** The band as an allowed/blocked table [T, T], before causality. */
    public static boolean[][] pattern(int length, int window, int globalTokens, boolean causal) {
        boolean[][] allowed = new boolean[length][length];
        for (int t = 0; t < length; t++) {
            for (int s = 0; s < length; s++) {
                boolean inBand = causal ? s <= t && t - s < window : Math.abs(t - s) < window;
                allowed[t][s] = inBand || t < globalTokens || s < globalTokens;
            }
        }
        return allowed;
    }

    record Window(int window, int globalTokens) implements Attention {

        @Override
        public String name() {
            return "sliding_window";
        }

        @Override
        public ScaledDotProductAttention.Output attend(SameDiff sd, String name, AttentionInputs in) {
            if (!in.self()) {
                throw new IllegalArgumentException("sliding_window attention is self-attention only; cross-attention "
                        + "from " + in.length() + " queries into " + in.keyLength() + " keys has no band");
            }
            boolean[][] allowed = pattern(in.length(), window, globalTokens, in.causal());
            float[][] band = new float[in.length()][in.length()];                     // [T, T]
            for (int t = 0; t < band.length; t++) {
                for (int s = 0; s < band.length; s++) {
                    band[t][s] = allowed[t][s] ? 0f : (float) AttentionMasks.BLOCKED;
                }
            }
            SDVariable mask = sd.constant(name + "/window", Nd4j.createFromArray(band).castTo(in.q().dataType()));
            SDVariable bias = in.bias() == null ? mask : in.bias().add(mask);          // [.., T, T]
            return ScaledDotProductAttention.apply(sd, name, in.q(), in.k(), in.v(), bias, in.headDim(),
                    in.beforeValues(), in.precision());
        }
    }
}
