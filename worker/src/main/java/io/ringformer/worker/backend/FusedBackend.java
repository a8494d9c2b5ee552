package io.ringformer.worker.backend;

import io.ringformer.worker.FlatParameters;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.FusedModel;
import io.ringformer.zoo.family.Model;
import io.ringformer.zoo.fused.Kernels;
import java.util.HashMap;
import java.util.Map;

/** A family's hand-written training step ({@link FusedModel}) on the trainer's flat layout. */
public final class FusedBackend implements ModelBackend {

    private final Model graph;
    private final FusedModel model;
    private final FlatParameters layout;
    private final int maxRows;

    public FusedBackend(Model graph, FlatParameters layout, int maxRows, boolean bf16, Kernels kernels) {
        this.graph = graph;
        this.layout = layout;
        this.maxRows = maxRows;
        Map<String, Integer> offsets = new HashMap<>();
        for (FlatParameters.Segment segment : layout.segments()) {
            offsets.put(segment.name(), segment.offset());
        }
        this.model = graph.fused(offsets, layout.size(), maxRows, bf16, kernels);
    }

    @Override
    public String description() {
        return "fused " + (model.isBf16() ? "bf16" : "fp32") + " (oneDNN GEMMs, " + model.kernels().name()
                + " kernels)";
    }

    /** A fused step's buffers are sized for its most rows: a new one when that changes. */
    @Override
    public ModelBackend forSequences(int rows) {
        return rows == maxRows ? this : new FusedBackend(graph, layout, rows, model.isBf16(), model.kernels());
    }

    @Override
    public void setParameters(float[] params) {
        model.setParameters(params);
    }

    @Override
    public double addGradients(Batch batch, int first, int count, long step, float gradScale, float[] into) {
        double loss = model.trainStep(batch, first, count, gradScale);
        model.addGradients(into);
        return loss;
    }

    @Override
    public double[] evaluate(Batch batch, int first, int count) {
        return model.evaluate(batch, first, count);
    }
}
