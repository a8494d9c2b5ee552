package io.ringformer.worker;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * bf16 and fp16 matmuls track the fp32 loss curve on real text. Tolerance: 2% of the loss at every logged step.
 * bf16 keeps 8 bits of mantissa (relative rounding 2^-9 ≈ 0.2% per product), and the fp32 master weights and
 * accumulation keep those errors from compounding; a real divergence (a broken cast, a wrong scale) moves the
 * loss by far more than 2% within a few dozen steps.
 */
class MixedPrecisionTrainingTest {

    @ParameterizedTest
    @ValueSource(strings = {"bf16", "fp16"})
    void halfPrecisionTracksTheFp32LossCurve(String precision) {
        Trainer reference = TrainerTest.trainer(TrainerTest.tiny());
        Trainer half = TrainerTest.trainer(TrainerTest.tiny("train.precision=" + precision));
        double worst = 0;
        for (int step = 0; step < 40; step++) {
            double expected = reference.trainStep().loss();
            Trainer.StepResult actual = half.trainStep();
            assertTrue(actual.applied(), precision + " skipped step " + step);
            worst = Math.max(worst, Math.abs(actual.loss() - expected) / expected);
        }
        System.out.printf("%s: worst relative loss difference to fp32 over 40 steps %.4f%n", precision, worst);
        assertTrue(worst < 0.02, precision + " drifted from fp32 by " + worst);
    }
}
