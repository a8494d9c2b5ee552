package io.ringformer.worker.optim;

/**
 * Learning rate as a function of the step, as nanoGPT's get_lr: linear warmup from 0 to {@code lr} over
 * {@code warmupSteps}, then a cosine from {@code lr} down to {@code minLr} at {@code decaySteps}, then flat at
 * {@code minLr}. The constant schedule returns {@code lr} at every step.
 */
public record LearningRateSchedule(boolean cosine, double lr, double minLr, int warmupSteps, int decaySteps) {

    public LearningRateSchedule {
        if (lr <= 0 || minLr < 0 || minLr > lr) {
            throw new IllegalArgumentException("need 0 ≤ optim.min_lr ≤ optim.lr and optim.lr > 0, got lr " + lr
                    + ", min_lr " + minLr);
        }
        if (cosine && (warmupSteps < 0 || decaySteps < warmupSteps)) {
            throw new IllegalArgumentException("need 0 ≤ optim.warmup_iters ≤ optim.lr_decay_iters, got "
                    + warmupSteps + " and " + decaySteps);
        }
    }

    public static LearningRateSchedule constant(double lr) {
        return new LearningRateSchedule(false, lr, lr, 0, 0);
    }

    public static LearningRateSchedule warmupCosine(double lr, double minLr, int warmupSteps, int decaySteps) {
        return new LearningRateSchedule(true, lr, minLr, warmupSteps, decaySteps);
    }

    /** The rate for optimizer step {@code step} (0-based). */
    public double at(long step) {
        if (!cosine) {
            return lr;
        }
        if (step < warmupSteps) {
            return lr * (step + 1) / (warmupSteps + 1);
        }
        if (step >= decaySteps) {
            return minLr;
        }
        double progress = (double) (step - warmupSteps) / Math.max(1, decaySteps - warmupSteps);
        return minLr + 0.5 * (1.0 + Math.cos(Math.PI * progress)) * (lr - minLr);
    }
}
