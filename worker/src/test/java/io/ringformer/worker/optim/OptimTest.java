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
    void clippingScalesToTheMaxNormAndReportsThePreClipNorm() {
        float[] g = {3, 4, 99};
        assertEquals(5.0, GradientClipping.clip(g, 2, 1.0), 1e-9);
        assertEquals(1.0, GradientClipping.norm(g, 2), 1e-5);
        assertEquals(99f, g[2], "elements past the length are not touched");
        float[] small = {0.3f, 0.4f};
        GradientClipping.clip(small, 2, 1.0);
        assertArrayEquals(new float[] {0.3f, 0.4f}, small);
        float[] off = {30, 40};
        GradientClipping.clip(off, 2, 0);
        assertArrayEquals(new float[] {30, 40}, off, "grad_clip 0 turns clipping off");
    }

    @Test
    void lossScalerSkipsOverflowHalvesAndGrowsAfterCleanSteps() {
        LossScaler scaler = new LossScaler(true);
        assertEquals(65536.0, scaler.scale());
        float[] g = {65536f, Float.POSITIVE_INFINITY};
        assertFalse(scaler.unscale(g, 2));
        assertEquals(32768.0, scaler.scale());
        float[] clean = {32768f, -16384f};
        assertTrue(scaler.unscale(clean, 2));
        assertArrayEquals(new float[] {1f, -0.5f}, clean);
        for (int i = 1; i < LossScaler.GROWTH_INTERVAL; i++) {
            assertTrue(scaler.unscale(new float[] {1f}, 1));
        }
        assertEquals(65536.0, scaler.scale(), "doubles after 2000 clean steps");

        LossScaler off = new LossScaler(false);
        assertFalse(off.unscale(new float[] {Float.NaN}, 1), "fp32 also refuses a non-finite step");
        assertEquals(1.0, off.scale());
    }
}
