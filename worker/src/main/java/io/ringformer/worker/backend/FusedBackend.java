package io.ringformer.worker.backend;

import io.ringformer.worker.FlatParameters;
import io.ringformer.zoo.fused.Kernels;
import io.ringformer.zoo.gpt.FusedGpt;
import io.ringformer.zoo.gpt.Gpt;
import java.util.HashMap;
import java.util.Map;

/** The hand-written training step ({@link FusedGpt}) on the trainer's flat layout. */
public final class FusedBackend implements ModelBackend {

    private final FusedGpt model;
    private final Gpt.Config config;
    private final FlatParameters layout;
    private final int maxSequences;

    public FusedBackend(Gpt.Config config, FlatParameters layout, int maxSequences, boolean bf16, Kernels kernels) {
        this.config = config;
        this.layout = layout;
        this.maxSequences = maxSequences;
        Map<String, Integer> offsets = new HashMap<>();
        for (FlatParameters.Segment segment : layout.segments()) {
            offsets.put(segment.name(), segment.offset());
        }
        this.model = new FusedGpt(config, offsets, layout.size(), maxSequences, bf16, kernels);
    }

    @Override
    public String description() {
        return "fused " + (model.isBf16() ? "bf16" : "fp32") + " (oneDNN GEMMs, " + model.kernels().name()
                + " kernels)";
    }

    /** A fused step's buffers are sized for its most sequences: a new one when that changes. */
    @Override
    public ModelBackend forSequences(int sequences) {
        return sequences == maxSequences ? this
                : new FusedBackend(config, layout, sequences, model.isBf16(), model.kernels());
    }

    @Override
    public void setParameters(float[] params) {
        model.setParameters(params);
    }

    @Override
    public double addGradients(int[] tokens, int[] targets, int first, int count, long step, float gradScale,
                               float[] into) {
        double loss = model.trainStep(tokens, targets, first, count, gradScale);
        model.addGradients(into);
        return loss;
    }

    @Override
    public double loss(int[] tokens, int[] targets, int first, int count) {
        return model.loss(tokens, targets, first, count);
    }
}
