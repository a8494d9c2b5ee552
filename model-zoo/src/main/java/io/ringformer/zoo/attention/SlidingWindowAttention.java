package io.ringformer.zoo.attention;

import io.ringformer.zoo.family.ConfigKey;
import io.ringformer.zoo.family.ConfigKey.Type;
import io.ringformer.zoo.family.Settings;
import java.util.List;

/**
 * {@code sliding_window} (Longformer, Beltagy et al. 2020; Mistral 7B): softmax attention restricted to a band of
 * {@code attention.window} keys. A causal query t sees keys t − w < s ≤ t; a bidirectional one sees |t − s| < w.
 * The first {@code attention.global_tokens} positions are global: they see every key and every query sees them
 * (BERT's and ViT's {@code [CLS]}). Self-attention only; see {@link PatternAttention}.
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
                        + "itself included; simplicial: the first key window w1", 1, 1 << 20),
                new ConfigKey("attention.global_tokens", Type.INT, 0, "sliding_window: leading positions that see "
                        + "and are seen by every position", 0, 1 << 20));
    }

    @Override
    public Attention configure(Settings config) {
        return new Window(config.getInt("attention.window"), config.getInt("attention.global_tokens"));
    }

    /** The band of {@code window} keys, with {@code globalTokens} global positions. */
    public static final class Window extends PatternAttention {

        private final int window;
        private final int globalTokens;

        public Window(int window, int globalTokens) {
            this.window = window;
            this.globalTokens = globalTokens;
        }

        @Override
        public String name() {
            return "sliding_window";
        }

        @Override
        public boolean allows(int t, int s, boolean causal) {
            boolean inBand = causal ? s <= t && t - s < window : Math.abs(t - s) < window;
            return inBand || t < globalTokens || s < globalTokens;
        }
    }
}
