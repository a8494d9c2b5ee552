package io.ringformer.worker.backend;

import io.ringformer.worker.FlatParameters;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.Model;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A family's SameDiff graph as a backend: the reference for the fused step, and the engine for what it does not
 * cover (dropout, fp16). The master parameters are copied into the graph once per step.
 */
public final class SameDiffBackend implements ModelBackend {

    private static final String LOSS_SCALE = "loss_scale";
    private static final String SCALED_LOSS = "scaled_loss";

    private final Model model;
    private final Supplier<Model> inferenceBuilder;
    private final SameDiff sd;
    private final FlatParameters layout;
    private final MixedPrecision precision;
    private final long seed;
    private final List<String> parameterNames;
    private Model inference;
    private float[] params;

    public SameDiffBackend(Model model, Supplier<Model> inference, FlatParameters layout, MixedPrecision precision,
                           long seed) {
        this.model = model;
        this.inferenceBuilder = inference;
        this.sd = model.graph();
        this.layout = layout;
        this.precision = precision;
        this.seed = seed;
        this.parameterNames = model.parameterNames();
        SDVariable scale = sd.placeHolder(LOSS_SCALE, DataType.FLOAT);
        sd.getVariable(model.loss()).mul(SCALED_LOSS, scale);
        sd.setLossVariables(SCALED_LOSS);
        createGradientFunction(sd); // now rather than inside the first step, so step times are comparable
    }

    /** M2.1 prints a line per differentiated op (~100) to System.out while it builds the backward graph. */
    public static void createGradientFunction(SameDiff sd) {
        java.io.PrintStream out = System.out;
        System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        try {
            sd.createGradFunction();
        } finally {
            System.setOut(out);
        }
    }

    @Override
    public String description() {
        return "samediff " + precisionName();
    }

    private String precisionName() {
        return switch (precision.compute()) {
            case BFLOAT16 -> "bf16";
            case HALF -> "fp16";
            default -> "fp32";
        };
    }

    @Override
    public void setParameters(float[] params) {
        this.params = params;
        layout.write(params, sd);
    }

    @Override
    public double addGradients(Batch batch, int first, int count, long step, float gradScale, float[] into) {
        Map<String, INDArray> feed = new HashMap<>(model.feed(batch, first, count));
        feed.putAll(model.dropoutNoise(seed, step, first, count));
        feed.put(LOSS_SCALE, Nd4j.scalar(DataType.FLOAT, gradScale));
        OutAndGrad result = sd.calculateGradientsAndOutputs(feed, List.of(model.loss()), parameterNames);
        layout.accumulate(result.getGradients(), 1f, into);
        return result.getOutputs().get(model.loss()).getDouble(0);
    }

    @Override
    public double[] evaluate(Batch batch, int first, int count) {
        Model graph = model;
        if (model.hasDropout()) {
            if (inference == null) {
                inference = inferenceBuilder.get();
            }
            layout.write(params, inference.graph());
            graph = inference;
        }
        List<String> outputs = new ArrayList<>();
        for (Model.Metric metric : graph.metrics()) {
            outputs.add(metric.sumVariable());
            outputs.add(metric.countVariable());
        }
        Map<String, INDArray> values = graph.graph().output(graph.feed(batch, first, count), outputs);
        double[] sums = new double[outputs.size()];
        for (int i = 0; i < sums.length; i++) {
            sums[i] = values.get(outputs.get(i)).getDouble(0);
        }
        return sums;
    }
}
