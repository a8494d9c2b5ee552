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
     * Decides the step from whether the gradient was finite (the trainer learns that from its norm, without a pass
     * of its own; it then multiplies by 1 / {@link #scale()} inside the optimizer's pass).
     *
     * @return {@code finite}; when false the scale halves
     */
    public boolean accept(boolean finite) {
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
