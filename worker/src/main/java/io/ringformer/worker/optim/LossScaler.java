package io.ringformer.worker.optim;

/**
 * Dynamic loss scaling for fp16 (Micikevicius et al. 2018, as torch.cuda.amp.GradScaler): the loss is multiplied
 * by {@link #scale()} before backprop; if any unscaled gradient is not finite the step is skipped and the scale
 * halves; after {@code growthInterval} clean steps in a row it doubles.
 */
public final class LossScaler {

    public static final double INITIAL_SCALE = 65536.0;
    public static final int GROWTH_INTERVAL = 2000;

    private final boolean enabled;
    private double scale;
    private int cleanSteps;

    /** Disabled scalers keep the scale at 1 and never skip. */
    public LossScaler(boolean enabled) {
        this(enabled, enabled ? INITIAL_SCALE : 1.0, 0);
    }

    public LossScaler(boolean enabled, double scale, int cleanSteps) {
        this.enabled = enabled;
        this.scale = scale;
        this.cleanSteps = cleanSteps;
    }

    public double scale() {
        return scale;
    }

    public int cleanSteps() {
        return cleanSteps;
    }

    /**
     * Divides {@code gradient[0, length)} by the scale in place and decides the step.
     *
     * @return true when the step should be applied; false when a value was not finite (then the scale halves)
     */
    public boolean unscale(float[] gradient, int length) {
        boolean finite = true;
        float inverse = (float) (1.0 / scale);
        for (int i = 0; i < length; i++) {
            float g = gradient[i] * inverse;
            finite &= Float.isFinite(g);
            gradient[i] = g;
        }
        if (!finite) {
            if (enabled) {
                scale = Math.max(1.0, scale / 2);
            }
            cleanSteps = 0;
            return false;
        }
        if (enabled && ++cleanSteps >= GROWTH_INTERVAL) {
            scale *= 2;
            cleanSteps = 0;
        }
        return true;
    }
}
