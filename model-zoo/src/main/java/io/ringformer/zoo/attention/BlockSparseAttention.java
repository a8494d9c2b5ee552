package io.ringformer.zoo.attention;

import io.ringformer.zoo.family.ConfigKey;
import io.ringformer.zoo.family.ConfigKey.Type;
import io.ringformer.zoo.family.Settings;
import java.util.List;

/**
 * {@code block_sparse}: the two factorised patterns of the Sparse Transformer (Child et al. 2019, §4.2), as one
 * mask per layer (the union of the paper's two heads' sets, its "merged" form):
 *
 * <ul>
 *   <li><b>strided</b>, stride l = {@code attention.stride}: query i sees the previous l keys (i − j < l) and every
 *       l-th key before them ((i − j) mod l = 0). Suits data with a period, such as image rows.</li>
 *   <li><b>fixed</b>, block l = {@code attention.block_size}: query i sees the keys of its own block
 *       (⌊j/l⌋ = ⌊i/l⌋) and the last {@code attention.summary} keys of every block (j mod l ≥ l − c), which carry
 *       the block's summary onwards.</li>
 * </ul>
 *
 * A causal model keeps only j ≤ i; a bidirectional one uses |i − j| in the strided pattern. Self-attention only;
 * see {@link PatternAttention}.
 */
public final class BlockSparseAttention implements AttentionType {

    @Override
    public String name() {
        return "block_sparse";
    }

    @Override
    public String description() {
        return "Sparse Transformer strided or fixed pattern";
    }

    @Override
    public List<ConfigKey> keys() {
        return List.of(
                new ConfigKey("attention.pattern", Type.STRING, "strided", "block_sparse: strided | fixed",
                        List.of("strided", "fixed")),
                new ConfigKey("attention.stride", Type.INT, 8, "block_sparse strided: the stride l", 1, 1 << 20),
                new ConfigKey("attention.block_size", Type.INT, 8, "block_sparse fixed: the block length l", 1,
                        1 << 20),
                new ConfigKey("attention.summary", Type.INT, 1, "block_sparse fixed: summary keys c at the end of "
                        + "each block", 1, 1 << 20));
    }

    @Override
    public Attention configure(Settings config) {
        int block = config.getInt("attention.block_size");
        int summary = config.getInt("attention.summary");
        if (summary > block) {
            throw new IllegalArgumentException("attention.summary (" + summary + ") cannot exceed "
                    + "attention.block_size (" + block + ")");
        }
        return config.getString("attention.pattern").equals("fixed") ? new Fixed(block, summary)
                : new Strided(config.getInt("attention.stride"));
    }

    /** Sparse Transformer's strided pattern. */
    public static final class Strided extends PatternAttention {

        private final int stride;

        public Strided(int stride) {
            this.stride = stride;
        }

        @Override
        public String name() {
            return "block_sparse";
        }

        @Override
        public boolean allows(int t, int s, boolean causal) {
            int distance = causal ? t - s : Math.abs(t - s);
            return distance >= 0 && (distance < stride || distance % stride == 0);
        }
    }

    /** Sparse Transformer's fixed pattern. */
    public static final class Fixed extends PatternAttention {

        private final int block;
        private final int summary;

        public Fixed(int block, int summary) {
            this.block = block;
            this.summary = summary;
        }

        @Override
        public String name() {
            return "block_sparse";
        }

        @Override
        public boolean allows(int t, int s, boolean causal) {
            return t / block == s / block || s % block >= block - summary;
        }
    }
}
