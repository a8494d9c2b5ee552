package io.ringformer.worker.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class OptimTest {

    @Test
    void cosineScheduleWarmsUpLinearlyThenDecaysToMinAndStaysThere() {
        LearningRateSchedule s = LearningRateSchedule.warmupCosine(1e-3, 1e-4, 100, 2000);
        assertEquals(1e-3 * 1 / 101, s.at(0), 1e-12);
        assertEquals(1e-3 * 50 / 101, s.at(49), 1e-12);
        assertTrue(s.at(99) < s.at(100) || s.at(99) <= 1e-3, "warmup rises to the peak");
        assertEquals(1e-3, s.at(100), 1e-12);                                    // peak right after warmup
        assertEquals(0.5 * (1e-3 + 1e-4), s.at(1050), 1e-12);                    // cosine midpoint
        assertEquals(1e-4, s.at(2000), 1e-12);
        assertEquals(1e-4, s.at(5000), 1e-12);                                   // flat after decay
        for (long step = 100; step < 2000; step++) {
            assertTrue(s.at(step + 1) <= s.at(step), "monotone decay at " + step);
        }
        assertEquals(3e-4, LearningRateSchedule.constant(3e-4).at(12345), 0);
    }

    @Test
    void adamWMatchesTheTextbookUpdateAndDecaysOnlyMaskedElements() {
        double lr = 0.01, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.1;
        AdamW adam = new AdamW(2, b1, b2, eps, wd);
        float[] p = {1.0f, -2.0f};
        double[] ref = {1.0, -2.0}, m = new double[2], v = new double[2];
        boolean[] decay = {true, false};
        float[][] grads = {{0.5f, -0.25f}, {0.1f, 0.3f}, {-0.7f, 0.05f}};
        for (int t = 1; t <= grads.length; t++) {
            adam.update(p, grads[t - 1], decay, lr);
            for (int i = 0; i < 2; i++) {
                double g = grads[t - 1][i];
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double mHat = m[i] / (1 - Math.pow(b1, t)), vHat = v[i] / (1 - Math.pow(b2, t));
                if (decay[i]) {
                    ref[i] -= lr * wd * ref[i];
                }
                ref[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
            }
        }
        assertEquals(ref[0], p[0], 1e-6);
        assertEquals(ref[1], p[1], 1e-6);
        assertEquals(3, adam.steps());
    }

    @Test
    void theNormIsTheDoubleSumOfSquaresAndTheClipFactorScalesToTheMaximum() {
        float[] g = {3, 4, 99};
        assertEquals(5.0, GradientClipping.norm(g, 2), 1e-12, "elements past the length are not counted");
        assertEquals(1.0 / (5.0 + 1e-6), GradientClipping.factor(5.0, 1.0), 1e-15);
        assertEquals(1.0, GradientClipping.factor(0.5, 1.0), "a small gradient is not scaled");
        assertEquals(1.0, GradientClipping.factor(50, 0), "grad_clip 0 turns clipping off");
        float[] many = new float[1003];                    // four partial sums and a tail
        double sum = 0;
        for (int i = 0; i < many.length; i++) {
            many[i] = (float) Math.sin(i) * (i % 7);
            sum += (double) many[i] * many[i];
        }
        assertEquals(Math.sqrt(sum), GradientClipping.norm(many, many.length), 1e-12 * Math.sqrt(sum));
        many[500] = Float.NaN;
        assertFalse(Double.isFinite(GradientClipping.norm(many, many.length)), "a NaN makes the norm NaN");
        many[500] = Float.POSITIVE_INFINITY;
        assertFalse(Double.isFinite(GradientClipping.norm(many, many.length)), "so does an infinity");
    }

    /** The trainer hands AdamW the gradient with the unscale and clip factor folded in: as if applied first. */
    @Test
    void aScaledUpdateIsTheUpdateOfTheScaledGradient() {
        float[] gradient = {0.5f, -0.25f, 3f, 1e-3f};
        float scale = 0.37f;
        float[] scaled = new float[gradient.length];
        for (int i = 0; i < gradient.length; i++) {
            scaled[i] = gradient[i] * scale;
        }
        boolean[] decay = {true, false, true, false};
        AdamW folded = new AdamW(4, 0.9, 0.99, 1e-8, 0.1);
        AdamW reference = new AdamW(4, 0.9, 0.99, 1e-8, 0.1);
        float[] p = {1f, -2f, 0.5f, 0f};
        float[] q = p.clone();
        for (int step = 0; step < 3; step++) {
            folded.update(p, gradient, decay, 0.01, scale);
            reference.update(q, scaled, decay, 0.01);
        }
        assertArrayEquals(q, p);
        assertArrayEquals(reference.secondMoment(), folded.secondMoment());
    }

    @Test
    void lossScalerSkipsOverflowHalvesAndGrowsAfterCleanSteps() {
        LossScaler scaler = new LossScaler(true);
        assertEquals(65536.0, scaler.scale());
        assertFalse(scaler.accept(false));
        assertEquals(32768.0, scaler.scale());
        assertTrue(scaler.accept(true));
        for (int i = 1; i < LossScaler.GROWTH_INTERVAL; i++) {
            assertTrue(scaler.accept(true));
        }
        assertEquals(65536.0, scaler.scale(), "doubles after 2000 clean steps");

        LossScaler off = new LossScaler(false);
        assertFalse(off.accept(false), "fp32 also refuses a non-finite step");
        assertEquals(1.0, off.scale());
    }
}
