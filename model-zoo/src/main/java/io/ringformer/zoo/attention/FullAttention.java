package io.ringformer.zoo.attention;

import io.ringformer.zoo.family.Settings;
import io.ringformer.zoo.fused.DenseAttention;
import io.ringformer.zoo.fused.FusedAttention;
import org.nd4j.autodiff.samediff.SameDiff;

/** {@code full}: softmax(q·kᵀ/√dh + bias)·v over every key the masks allow ({@link ScaledDotProductAttention}). */
public final class FullAttention implements AttentionType, Attention {

    @Override
    public String name() {
        return "full";
    }

    @Override
    public String description() {
        return "softmax over every allowed key";
    }

    @Override
    public Attention configure(Settings config) {
        return this;
    }

    @Override
    public ScaledDotProductAttention.Output attend(SameDiff sd, String name, AttentionInputs in) {
        return ScaledDotProductAttention.apply(sd, name, in.q(), in.k(), in.v(), in.bias(), in.headDim(),
                in.beforeValues(), in.precision());
    }

    @Override
    public FusedAttention.Factory fused() {
        return DenseAttention::new;
    }
}
