package io.ringformer.zoo.attention;

import io.ringformer.zoo.ParameterTable;
import io.ringformer.zoo.fused.FusedAttention;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * A configured attention type (see {@link AttentionType}): what {@link MultiHeadAttention} calls between the
 * projections. The queries, keys and values arrive split into heads, positions applied; what comes back is the
 * attended values and the weights a person can look at.
 */
public interface Attention {

    /** Its {@link AttentionType#name()}. */
    String name();

    /**
     * Builds the graph of the attention.
     *
     * @param name the layer's name; graph variables made here start with it
     */
    ScaledDotProductAttention.Output attend(SameDiff sd, String name, AttentionInputs in);

    /**
     * Declares this attention's own parameters of a layer, after the layer's projections: each is named
     * {@code <layer>/<suffix>} and reaches {@link #attend} as {@code in.own(suffix)}. Names with {@code /w_} get
     * weight decay. Most types have none.
     *
     * @param layer  the layer's name, e.g. {@code h3/attn}
     * @param outStd the initial standard deviation of projections into the residual stream
     */
    default void declare(ParameterTable table, String layer, int width, int heads, double outStd) {}

    /**
     * Refuses a layer this attention cannot serve, naming the conflict and a way out.
     *
     * @throws IllegalArgumentException e.g. a position type that has no meaning without a score matrix
     */
    default void check(PositionType positions, boolean causal) {}

    /**
     * This attention in the fused step ({@link FusedAttention}: its forward and backward passes written out), or
     * null when it has none; the model then trains on SameDiff and says so. {@code full} and
     * {@code memory_efficient} have one.
     */
    default FusedAttention.Factory fused() {
        return null;
    }

    /** Why the fused step cannot run this attention, or null when it can. */
    default String fusedGap() {
        return fused() == null ? "attention.type " + name() : null;
    }
}
