package io.ringformer.worker.backend;

import io.ringformer.worker.ConfigException;
import io.ringformer.worker.FlatParameters;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.Model;
import io.ringformer.zoo.fused.Dnnl;
import io.ringformer.zoo.fused.Kernels;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * What a trainer needs of its model, whatever the family: the gradient of a micro-batch and the metrics of an
 * evaluation batch, on the trainer's flat fp32 parameters. Two engines compute the same thing: {@link FusedBackend},
 * the family's hand-written step, and {@link SameDiffBackend}, the family's graph that is its reference.
 *
 * <p>A call reads the rows [first, first + count) of a {@link Batch}.
 */
public interface ModelBackend {

    /** "fused fp32 (vector 512-bit kernels)", "samediff bf16", …: for the log and benchmark reports. */
    String description();

    /** The trainer's master parameters changed: take them (once per optimizer step). */
    void setParameters(float[] params);

    /**
     * {@code into[0, P) += gradScale · ∇loss} over the rows [first, first + count), where the loss is the
     * model's ({@link Model#loss()}: a mean over those rows).
     *
     * @param step the optimizer step, which seeds dropout masks
     * @return the loss of those rows
     */
    double addGradients(Batch batch, int first, int count, long step, float gradScale, float[] into);

    /** Hears which ranges of the flat gradient are complete, as the backward pass completes them. */
    @FunctionalInterface
    interface CompletedRanges {
        void completed(int offset, int length);
    }

    /**
     * As {@link #addGradients(Batch, int, int, long, float, float[])}, telling {@code completed} each range of
     * {@code into} as soon as the backward pass has added its final values, so that its all-reduce can start while
     * earlier layers compute. A backend that cannot tell says nothing: every range is complete when the call
     * returns, and whatever was not told is the caller's to finish.
     */
    default double addGradients(Batch batch, int first, int count, long step, float gradScale, float[] into,
                                CompletedRanges completed) {
        return addGradients(batch, first, count, step, gradScale, into);
    }

    /** The sums and counts of the model's metrics ({@link Model#metrics()}) over the rows, without dropout. */
    double[] evaluate(Batch batch, int first, int count);

    /**
     * This backend for calls of at most {@code maxRows} rows (a rank's share of the batch changed with the world
     * size): itself when its buffers suit that size, or a new one sized for it. The caller sets the parameters of a
     * new one.
     */
    default ModelBackend forSequences(int maxRows) {
        return this;
    }

    /**
     * The backend {@code model.backend} asks for. {@code fused} is taken wherever it covers the model (the family
     * has a fused step for it, fp32 or bf16, oneDNN loads here); otherwise the SameDiff graph trains and {@code log}
     * says why, once.
     *
     * @param model     the SameDiff model: its initial parameters and layout are the fused model's too
     * @param inference builds the model again without dropout, for evaluation, if it is ever needed
     * @param maxRows   the most rows one call will get
     */
    static ModelBackend create(String name, Model model, Supplier<Model> inference, FlatParameters layout,
                               MixedPrecision precision, long seed, int maxRows, Consumer<String> log) {
        switch (name) {
            case "samediff" -> {
                return new SameDiffBackend(model, inference, layout, precision, seed);
            }
            case "fused" -> {
                String missing = fusedGap(model, precision);
                if (missing == null) {
                    return new FusedBackend(model, layout, maxRows, precision.compute() == DataType.BFLOAT16,
                            Kernels.best());
                }
                log.accept("model.backend fused does not cover " + missing + "; training on SameDiff");
                return new SameDiffBackend(model, inference, layout, precision, seed);
            }
            default -> throw new ConfigException("model.backend must be fused or samediff, got '" + name + "'");
        }
    }

    /** What keeps the fused backend from this model, or null when nothing does. */
    private static String fusedGap(Model model, MixedPrecision precision) {
        String gap = model.fusedGap(precision);
        if (gap != null) {
            return gap;
        }
        if (precision.compute() == DataType.HALF) {
            return "fp16 (train.precision fp16)";
        }
        if (!Dnnl.isAvailable()) {
            return "this machine: oneDNN does not load (" + Dnnl.unavailableReason() + ")";
        }
        return null;
    }
}
