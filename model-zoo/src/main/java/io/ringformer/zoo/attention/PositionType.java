package io.ringformer.zoo.attention;

import java.util.Arrays;
import java.util.Locale;

/**
 * How a model knows where a token is. LEARNED and SINUSOIDAL are added to the token embeddings; ROPE and ALIBI
 * act inside self-attention (on q and k, or on the scores) and add nothing to the embeddings.
 */
public enum PositionType {
    /** A trained [blockSize, width] table (GPT-2). */
    LEARNED,
    /** The fixed sin/cos table of Vaswani et al. 2017, §3.5. */
    SINUSOIDAL,
    /** Rotary embeddings, Su et al. 2021 (RoFormer), half-split pairing as in GPT-NeoX. */
    ROPE,
    /** Attention with linear biases, Press et al. 2022 (ALiBi). */
    ALIBI;

    /** True when the position enters through the embeddings rather than inside attention. */
    public boolean isAbsolute() {
        return this == LEARNED || this == SINUSOIDAL;
    }

    /** Parses a config value such as {@code rope}; the error lists the accepted values. */
    public static PositionType parse(String value) {
        try {
            return valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown position type '" + value + "'; use one of "
                    + Arrays.toString(values()).toLowerCase(Locale.ROOT));
        }
    }
}
