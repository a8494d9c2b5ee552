package io.ringformer.zoo.family;

import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.ParameterTable;
import io.ringformer.zoo.fused.Kernels;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A family's model, built: its SameDiff graph (the reference), its parameter groups, how a batch feeds it, its
 * metrics, and its fused step where it has one.
 *
 * <p>The loss contract that makes N ranks equal one: {@link #loss()} over rows [first, first + count) is the mean
 * over those rows of a per-row loss, and the mean of the per-row loss over the global batch is the objective. A
 * family whose objective averages over something else (masked tokens) weights each row's terms in the batch so
 * that this holds.
 */
public interface Model {

    /** One evaluation metric: a sum and a count in the graph, so that ranks' parts add up exactly. */
    record Metric(String name, String sumVariable, String countVariable) {}

    /** The trainable parameters declared, with their shapes and initial values: all a fused step needs. */
    ParameterTable parameters();

    /** The graph, built on first use (a fused run never asks). */
    SameDiff graph();

    /** The trainable variables, in a fixed order (the flat parameter layout). */
    List<String> parameterNames();

    /** Whether AdamW's weight decay applies to a parameter (matrices, not biases, gains or positions). */
    boolean decays(String parameter);

    /** The scalar training loss variable. */
    String loss();

    /** What an evaluation reports; the first is the loss the trainer logs as {@code val_loss}. */
    List<Metric> metrics();

    /** The placeholders for rows [first, first + count) of {@code batch}. */
    Map<String, INDArray> feed(Batch batch, int first, int count);

    /** Whether the graph draws dropout masks (fed by {@link #dropoutNoise}); an inference graph does not. */
    boolean hasDropout();

    /** Dropout masks for rows [first, first + count) of step {@code step}'s global batch; empty without dropout. */
    Map<String, INDArray> dropoutNoise(long seed, long step, int first, int count);

    /** What keeps the fused step from this model in {@code precision}, or null when nothing does. */
    String fusedGap(MixedPrecision precision);

    /**
     * The fused step on a flat parameter vector whose variables start at {@code offsets}.
     *
     * @param maxRows the most rows one call will get
     */
    FusedModel fused(Map<String, Integer> offsets, int parameterCount, int maxRows, boolean bf16, Kernels kernels);
}
