package io.ringformer.zoo.vit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.GradientCheck;
import io.ringformer.zoo.MixedPrecision;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class VitTest {

    @Test
    void thePatchOrderCutsTheImageIntoRowMajorPatches() {
        Vit.Config config = new Vit.Config(28, 28, 7, 10, 1, 2, 8, 0);
        INDArray image = Nd4j.arange(784).castTo(DataType.FLOAT).reshape(1, 784);
        float[] ordered = image.mmul(Vit.patchOrder(config, DataType.FLOAT)).data().asFloat();
        for (int patch = 0; patch < 16; patch++) {
            for (int k = 0; k < 49; k++) {
                int y = (patch / 4) * 7 + k / 7;
                int x = (patch % 4) * 7 + k % 7;
                assertEquals(y * 28 + x, ordered[patch * 49 + k], 0f, "patch " + patch + ", pixel " + k);
            }
        }
    }

    @Test
    void gradientsOfEveryParameterMatchFiniteDifferences() {
        // A non-square patch grid is impossible on 28 × 28; 12 × 8 with 4 × 4 patches gives 3 × 2 patches.
        Vit vit = Vit.build(new Vit.Config(12, 8, 4, 3, 2, 2, 8, 0), DataType.DOUBLE, 5, false, MixedPrecision.FP32);
        // The head starts at zero (so no gradient would reach below it): give it values for the check.
        vit.graph().getArrForVarName("head/w_cls").assign(GradientCheck.uniform(9, DataType.DOUBLE, 8, 3));
        Map<String, INDArray> feed = Map.of(
                Vit.PIXELS, GradientCheck.uniform(1, DataType.DOUBLE, 3, 96),
                Vit.LABELS, Nd4j.createFromArray(new int[][] {{0}, {2}, {1}}));
        List<String> names = vit.parameterNames();
        assertTrue(names.containsAll(List.of("patch/w_embed", "patch/b_embed", "cls", "wpe", "head/w_cls",
                "head/b_cls")), names::toString);
        GradientCheck.check(vit.graph(), Vit.LOSS, feed, 10, names.toArray(String[]::new));
    }

    @Test
    void theLossIsTheMeanCrossEntropyAndAccuracyCountsArgmaxHits() {
        Vit vit = Vit.build(new Vit.Config(12, 8, 4, 3, 1, 2, 8, 0), DataType.DOUBLE, 5, false, MixedPrecision.FP32);
        vit.graph().getArrForVarName("head/w_cls").assign(GradientCheck.uniform(9, DataType.DOUBLE, 8, 3));
        Map<String, INDArray> feed = Map.of(
                Vit.PIXELS, GradientCheck.uniform(1, DataType.DOUBLE, 4, 96),
                Vit.LABELS, Nd4j.createFromArray(new int[][] {{0}, {2}, {1}, {1}}));
        Map<String, INDArray> out = vit.graph().output(feed, List.of(Vit.LOGITS, Vit.LOSS, Vit.LOSS_SUM, Vit.ROWS,
                Vit.CORRECT));
        double[][] logits = out.get(Vit.LOGITS).toDoubleMatrix();
        int[] labels = {0, 2, 1, 1};
        double sum = 0;
        int correct = 0;
        for (int r = 0; r < 4; r++) {
            double max = Math.max(logits[r][0], Math.max(logits[r][1], logits[r][2]));
            double z = 0;
            int best = 0;
            for (int c = 0; c < 3; c++) {
                z += Math.exp(logits[r][c] - max);
                best = logits[r][c] > logits[r][best] ? c : best;
            }
            sum += -(logits[r][labels[r]] - max - Math.log(z));
            correct += best == labels[r] ? 1 : 0;
        }
        assertEquals(sum, out.get(Vit.LOSS_SUM).getDouble(0), 1e-9);
        assertEquals(sum / 4, out.get(Vit.LOSS).getDouble(0), 1e-9);
        assertEquals(4, out.get(Vit.ROWS).getDouble(0));
        assertEquals(correct, out.get(Vit.CORRECT).getDouble(0));
    }
}
