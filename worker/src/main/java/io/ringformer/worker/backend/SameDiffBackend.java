package io.ringformer.worker.backend;

import io.ringformer.worker.FlatParameters;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.gpt.Gpt;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The SameDiff graph of {@link Gpt} as a backend: the reference for the fused step, and the engine for what it
 * does not cover (dropout, fp16). The master parameters are copied into the graph once per step.
 */
public final class SameDiffBackend implements ModelBackend {

    private static final String LOSS_SCALE = "loss_scale";
    private static final String SCALED_LOSS = "scaled_loss";

    private final Gpt gpt;
    private final SameDiff sd;
    private final FlatParameters layout;
    private final MixedPrecision precision;
    private final long seed;
    private final List<String> parameterNames;
    private Gpt inference;
    private float[] params;

    public SameDiffBackend(Gpt gpt, FlatParameters layout, MixedPrecision precision, long seed) {
        this.gpt = gpt;
        this.sd = gpt.graph();
        this.layout = layout;
        this.precision = precision;
        this.seed = seed;
        this.parameterNames = gpt.parameterNames();
        SDVariable scale = sd.placeHolder(LOSS_SCALE, DataType.FLOAT);
        sd.getVariable(Gpt.LOSS).mul(SCALED_LOSS, scale);
        sd.setLossVariables(SCALED_LOSS);
        createGradientFunction(sd); // now rather than inside the first step, so step times are comparable
    }

    /** M2.1 prints a line per differentiated op (~100) to System.out while it builds the backward graph. */
    private static void createGradientFunction(SameDiff sd) {
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
    public double addGradients(int[] tokens, int[] targets, int first, int count, long step, float gradScale,
                               float[] into) {
        Map<String, INDArray> feed = feed(tokens, targets, first, count);
        feed.putAll(gpt.dropoutNoise(seed, step, first, count));
        feed.put(LOSS_SCALE, Nd4j.scalar(DataType.FLOAT, gradScale));
        OutAndGrad result = sd.calculateGradientsAndOutputs(feed, List.of(Gpt.LOSS), parameterNames);
        layout.accumulate(result.getGradients(), 1f, into);
        return result.getOutputs().get(Gpt.LOSS).getFloat(0);
    }

    @Override
    public double loss(int[] tokens, int[] targets, int first, int count) {
        SameDiff graph = sd;
        if (gpt.config().dropout() > 0) {
            if (inference == null) {
                inference = Gpt.build(gpt.config(), DataType.FLOAT, seed, false);
            }
            layout.write(params, inference.graph());
            graph = inference.graph();
        }
        return graph.output(feed(tokens, targets, first, count), Gpt.LOSS).get(Gpt.LOSS).getFloat(0);
    }

    private Map<String, INDArray> feed(int[] tokens, int[] targets, int first, int count) {
        int t = gpt.config().blockSize();
        Map<String, INDArray> feed = new HashMap<>();
        feed.put(Gpt.TOKENS, Nd4j.createFromArray(java.util.Arrays.copyOfRange(tokens, first * t, (first + count) * t))
                .reshape(count, t));
        feed.put(Gpt.TARGETS, Nd4j.createFromArray(java.util.Arrays.copyOfRange(targets, first * t,
                (first + count) * t)).reshape(count, t));
        return feed;
    }
}
