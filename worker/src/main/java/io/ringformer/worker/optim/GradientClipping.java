package io.ringformer.worker.optim;

/** Global-norm clipping, as torch.nn.utils.clip_grad_norm_: scale every gradient by min(1, max / ‖g‖₂). */
public final class GradientClipping {

    private GradientClipping() {}

    /** The L2 norm of {@code gradient[0, length)}, accumulated in double. */
    public static double norm(float[] gradient, int length) {
        double sum = 0;
        for (int i = 0; i < length; i++) {
            sum += (double) gradient[i] * gradient[i];
        }
        return Math.sqrt(sum);
    }

    /**
     * Clips {@code gradient[0, length)} in place when {@code maxNorm > 0}; returns the norm before clipping (what
     * a log should show).
     */
    public static double clip(float[] gradient, int length, double maxNorm) {
        double norm = norm(gradient, length);
        if (maxNorm > 0 && norm > maxNorm) {
            float scale = (float) (maxNorm / (norm + 1e-6));
            for (int i = 0; i < length; i++) {
                gradient[i] *= scale;
            }
        }
        return norm;
    }
}
