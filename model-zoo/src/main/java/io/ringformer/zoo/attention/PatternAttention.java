package io.ringformer.zoo.attention;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Softmax attention over a fixed pattern of allowed (query, key) pairs: the windowed and sparse types. The pattern
 * is one more additive mask folded into the scores' bias, so a key outside it gets a weight of exactly 0, and with
 * it no influence on the output and no gradient. Causality and padding still apply on top of the pattern. This
 * graph still computes the [T, T] scores: it is the reference for the pattern, not a saving in memory.
 */
public abstract class PatternAttention implements Attention {

    /** Whether query t may see key s, before causality and padding ({@code causal} says which kind of model). */
    public abstract boolean allows(int t, int s, boolean causal);

    @Override
    public ScaledDotProductAttention.Output attend(SameDiff sd, String name, AttentionInputs in) {
        if (!in.self()) {
            throw new IllegalArgumentException(name() + " attention is self-attention only; cross-attention from "
                    + in.length() + " queries into " + in.keyLength() + " keys has no pattern");
        }
        float[][] mask = new float[in.length()][in.length()];                         // [T, T]
        for (int t = 0; t < mask.length; t++) {
            for (int s = 0; s < mask.length; s++) {
                mask[t][s] = allows(t, s, in.causal()) ? 0f : (float) AttentionMasks.BLOCKED;
            }
        }
        SDVariable pattern = sd.constant(name + "/pattern", Nd4j.createFromArray(mask).castTo(in.q().dataType()));
        SDVariable bias = in.bias() == null ? pattern : in.bias().add(pattern);       // [.., T, T]
        return ScaledDotProductAttention.apply(sd, name, in.q(), in.k(), in.v(), bias, in.headDim(),
                in.beforeValues(), in.precision());
    }
}
