package io.ringformer.worker.optim;

/** Global-norm clipping, as torch.nn.utils.clip_grad_norm_: scale every gradient by min(1, max / ‖g‖₂). */
public final class GradientClipping {

    private GradientClipping() {}

    /** The L2 norm of the whole vector, accumulated in double. */
    public static double norm(float[] gradient) {
        double sum = 0;
        for (float g : gradient) {
            sum += (double) g * g;
        }
        return Math.sqrt(sum);
    }

    /**
     * Clips in place when {@code maxNorm > 0}; returns the norm before clipping (what a log should show).
     */
    public static double clip(float[] gradient, double maxNorm) {
        double norm = norm(gradient);
        if (maxNorm > 0 && norm > maxNorm) {
            float scale = (float) (maxNorm / (norm + 1e-6));
            for (int i = 0; i < gradient.length; i++) {
                gradient[i] *= scale;
            }
        }
        return norm;
    }
}
