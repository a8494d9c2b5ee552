package io.ringformer.zoo.family;

import io.ringformer.zoo.fused.FusedParameters;
import io.ringformer.zoo.fused.Kernels;
import java.util.List;
import java.util.function.Consumer;

/** A family's hand-written training step: the same loss, gradients and metrics as its graph, faster. */
public interface FusedModel {

    /** Its flat parameters and gradients in native memory. */
    FusedParameters parameters();

    /** The trainer's master parameters changed: take them. */
    default void setParameters(float[] flat) {
        parameters().set(flat);
    }

    /**
     * Forward and backward over rows [first, first + count) of {@code batch}; the gradient of
     * {@code gradScale · loss} waits in the model for {@link #addGradients}.
     *
     * @return the loss (as {@link Model#loss()} defines it)
     */
    double trainStep(Batch batch, int first, int count, float gradScale);

    /**
     * As {@link #trainStep(Batch, int, int, float)}, telling {@code finished}, during the backward pass, the names of
     * the parameters whose gradients it has just completed (a layer's, as each layer's backward pass ends), so that
     * their all-reduce can start while earlier layers compute. A model that cannot tell says nothing: then every
     * gradient is complete when the call returns.
     */
    default double trainStep(Batch batch, int first, int count, float gradScale, Consumer<List<String>> finished) {
        return trainStep(batch, first, count, gradScale);
    }

    /** {@code into[0, P) += } the gradient of the last {@link #trainStep}. */
    default void addGradients(float[] into) {
        parameters().addGradients(into);
    }

    /** The sums and counts of {@link Model#metrics()} over rows [first, first + count): 2·M values. */
    double[] evaluate(Batch batch, int first, int count);

    default boolean isBf16() {
        return parameters().isBf16();
    }

    default Kernels kernels() {
        return parameters().kernels();
    }
}
