package io.ringformer.zoo.vit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.GradientCheck;
import io.ringformer.zoo.MixedPrecision;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.fused.Kernels;
import io.ringformer.zoo.fused.ScalarKernels;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The fused ViT step against the graph: same parameters and batch, the same loss, metrics and every gradient,
 * normwise within 1e-5 per parameter tensor (as FusedGptTest explains), on non-square sizes.
 */
class FusedVitTest {

    private static final double TOLERANCE = 1e-5;

    @Test
    void lossMetricsAndEveryGradientEqualTheGraphs() {
        // Non-square: a 12 × 8 image of 4 × 4 patches (N 6, T 7), d 12, 3 heads of 4, 5 classes, 3 images.
        check(new Vit.Config(12, 8, 4, 5, 2, 3, 12, 0), 3, Kernels.best());
    }

    @Test
    void theScalarKernelsGiveTheSameStep() {
        check(new Vit.Config(12, 8, 4, 5, 1, 2, 8, 0), 2, new ScalarKernels());
    }

    @Test
    void atTheTinyRecipesShape() {
        check(new Vit.Config(28, 28, 7, 10, 2, 2, 32, 0), 4, Kernels.best());
    }

    private static void check(Vit.Config config, int images, Kernels kernels) {
        Vit vit = Vit.build(config, 5, false, MixedPrecision.FP32);
        SameDiff sd = vit.graph();
        // The head starts at zero, which would hide every gradient below it: give it values.
        sd.getArrForVarName("head/w_cls").assign(GradientCheck.uniform(9, DataType.FLOAT, config.embedding(),
                config.classes()));
        int pixels = config.height() * config.width();
        Batch batch = new Batch(List.of(Batch.Field.floats(Vit.PIXELS, pixels), Batch.Field.ints(Vit.LABELS, 1)),
                images + 1);
        float[] values = GradientCheck.uniform(1, DataType.FLOAT, (images + 1) * pixels).data().asFloat();
        System.arraycopy(values, 0, batch.floats(Vit.PIXELS), 0, values.length);
        for (int i = 0; i <= images; i++) {
            batch.ints(Vit.LABELS)[i] = (3 * i + 1) % config.classes();
        }
        Map<String, INDArray> feed = vit.feed(batch, 1, images);       // rows [1, 1 + images): an offset too
        Map<String, INDArray> out = sd.output(feed, List.of(Vit.LOSS, Vit.CORRECT));
        Map<String, INDArray> gradients = sd.calculateGradients(feed, vit.parameterNames());
        Map<String, Integer> offsets = new LinkedHashMap<>();
        int size = 0;
        for (String name : vit.parameterNames()) {
            offsets.put(name, size);
            size += (int) sd.getArrForVarName(name).length();
        }
        float[] flat = new float[size];
        for (String name : vit.parameterNames()) {
            float[] array = sd.getArrForVarName(name).dup().data().asFloat();
            System.arraycopy(array, 0, flat, offsets.get(name), array.length);
        }
        FusedVit fused = new FusedVit(config, offsets, size, images, false, kernels);
        fused.setParameters(flat);
        double expectedLoss = out.get(Vit.LOSS).getDouble(0);
        float scale = 3f;
        assertEquals(expectedLoss, fused.trainStep(batch, 1, images, scale), TOLERANCE * expectedLoss, "loss");
        double[] metrics = fused.evaluate(batch, 1, images);
        assertEquals(expectedLoss * images, metrics[0], TOLERANCE * expectedLoss * images, "loss sum");
        assertEquals(images, metrics[1]);
        assertEquals(out.get(Vit.CORRECT).getDouble(0), metrics[2], "correct images");
        float[] gradient = new float[size];
        fused.addGradients(gradient);
        for (String name : vit.parameterNames()) {
            float[] expected = gradients.get(name).dup().data().asFloat();
            double difference = 0;
            double norm = 0;
            for (int i = 0; i < expected.length; i++) {
                double e = scale * expected[i];
                double actual = gradient[offsets.get(name) + i];
                difference += (actual - e) * (actual - e);
                norm += e * e;
            }
            double relative = Math.sqrt(difference / norm);
            assertTrue(norm > 0, name + " has a zero gradient in the graph; the case tests nothing");
            assertTrue(relative <= TOLERANCE, name + ": ‖fused − graph‖/‖graph‖ = " + relative);
        }
    }
}
