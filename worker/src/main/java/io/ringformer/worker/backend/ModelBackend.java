package io.ringformer.worker.backend;

import io.ringformer.worker.ConfigException;
import io.ringformer.worker.FlatParameters;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.fused.Dnnl;
import io.ringformer.zoo.fused.Kernels;
import io.ringformer.zoo.gpt.Gpt;
import java.util.function.Consumer;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * What a trainer needs of its model: the gradient of a micro-batch and the loss of an evaluation batch, on the
 * trainer's flat fp32 parameters. Two engines compute the same thing: {@link FusedBackend}, the hand-written step,
 * and {@link SameDiffBackend}, the graph that is its reference.
 *
 * <p>A batch is a pair of flat [sequences, T] token and target arrays (row-major); a call reads the sequences
 * [first, first + count).
 */
public interface ModelBackend {

    /** "fused fp32 (vector 512-bit kernels)", "samediff bf16", …: for the log and benchmark reports. */
    String description();

    /** The trainer's master parameters changed: take them (once per optimizer step). */
    void setParameters(float[] params);

    /**
     * {@code into[0, P) += gradScale · ∇(mean loss)} over the sequences [first, first + count).
     *
     * @param step the optimizer step, which seeds dropout masks
     * @return the mean loss of those sequences
     */
    double addGradients(int[] tokens, int[] targets, int first, int count, long step, float gradScale,
                        float[] into);

    /** The mean loss of the sequences [first, first + count) without dropout (evaluation). */
    double loss(int[] tokens, int[] targets, int first, int count);

    /**
     * This backend for calls of at most {@code maxSequences} sequences (a rank's share of the batch changed with the
     * world size): itself when its buffers suit that size, or a new one sized for it. The caller sets the
     * parameters of a new one.
     */
    default ModelBackend forSequences(int maxSequences) {
        return this;
    }

    /**
     * The backend {@code model.backend} asks for. {@code fused} is taken wherever it covers the model (no dropout,
     * fp32 or bf16, oneDNN loads here); otherwise the SameDiff graph trains and {@code log} says why, once.
     *
     * @param gpt          the SameDiff model: its initial parameters and layout are the fused model's too
     * @param maxSequences the most sequences one call will get
     */
    static ModelBackend create(String name, Gpt gpt, FlatParameters layout, MixedPrecision precision, long seed,
                               int maxSequences, Consumer<String> log) {
        switch (name) {
            case "samediff" -> {
                return new SameDiffBackend(gpt, layout, precision, seed);
            }
            case "fused" -> {
                String missing = fusedGap(gpt.config(), precision);
                if (missing == null) {
                    return new FusedBackend(gpt.config(), layout, maxSequences,
                            precision.compute() == DataType.BFLOAT16, Kernels.best());
                }
                log.accept("model.backend fused does not cover " + missing + "; training on SameDiff");
                return new SameDiffBackend(gpt, layout, precision, seed);
            }
            default -> throw new ConfigException("model.backend must be fused or samediff, got '" + name + "'");
        }
    }

    /** What keeps the fused backend from this model, or null when nothing does. */
    private static String fusedGap(Gpt.Config config, MixedPrecision precision) {
        if (config.dropout() > 0) {
            return "dropout (model.dropout " + config.dropout() + ")";
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
