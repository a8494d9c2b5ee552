package io.ringformer.worker.backend;

import io.ringformer.worker.FlatParameters;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.FusedModel;
import io.ringformer.zoo.family.Model;
import io.ringformer.zoo.fused.Kernels;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.function.Consumer;
import java.util.Map;

/** A family's hand-written training step ({@link FusedModel}) on the trainer's flat layout. */
public final class FusedBackend implements ModelBackend {

    private final Model graph;
    private final FusedModel model;
    private final FlatParameters layout;
    private final int maxRows;
    private final Map<String, Integer> segmentIndex = new HashMap<>();
    private final Handover handover;

    public FusedBackend(Model graph, FlatParameters layout, int maxRows, boolean bf16, Kernels kernels) {
        this.graph = graph;
        this.layout = layout;
        this.maxRows = maxRows;
        Map<String, Integer> offsets = new HashMap<>();
        for (FlatParameters.Segment segment : layout.segments()) {
            offsets.put(segment.name(), segment.offset());
            segmentIndex.put(segment.name(), segmentIndex.size());
        }
        this.model = graph.fused(offsets, layout.size(), maxRows, bf16, kernels);
        this.handover = new Handover();
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

    /** Adds each parameter's gradient into {@code into} as the model completes it, and tells {@code completed}. */
    @Override
    public double addGradients(Batch batch, int first, int count, long step, float gradScale, float[] into,
                               CompletedRanges completed) {
        handover.start(into, completed);
        double loss = model.trainStep(batch, first, count, gradScale, handover);
        handover.finishRest();
        return loss;
    }

    /**
     * The model's "these gradients are complete" turned into ranges of the flat gradient: each completed parameter
     * is added into the trainer's buffer and its range told on; the parameters the model did not name are added
     * when its step returns. One instance, reused: no allocation per step.
     */
    private final class Handover implements Consumer<List<String>> {
        private final boolean[] told = new boolean[layout.segments().size()];
        private float[] into;
        private CompletedRanges completed;

        void start(float[] into, CompletedRanges completed) {
            this.into = into;
            this.completed = completed;
            Arrays.fill(told, false);
        }

        @Override
        public void accept(List<String> names) {
            for (int i = 0; i < names.size(); i++) {
                int index = segmentIndex.get(names.get(i));
                FlatParameters.Segment segment = layout.segments().get(index);
                model.parameters().addGradients(into, segment.offset(), segment.length());
                told[index] = true;
                completed.completed(segment.offset(), segment.length());
            }
        }

        void finishRest() {
            for (int index = 0; index < told.length; index++) {
                if (!told[index]) {
                    FlatParameters.Segment segment = layout.segments().get(index);
                    model.parameters().addGradients(into, segment.offset(), segment.length());
                }
            }
        }
    }

    @Override
    public double[] evaluate(Batch batch, int first, int count) {
        return model.evaluate(batch, first, count);
    }
}
