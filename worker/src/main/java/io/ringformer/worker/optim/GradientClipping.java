package io.ringformer.worker.optim;

/** Global-norm clipping, as torch.nn.utils.clip_grad_norm_: scale every gradient by min(1, max / ‖g‖₂). */
public final class GradientClipping {

    private GradientClipping() {}

    /**
     * The L2 norm of {@code gradient[0, length)}, accumulated in double: in four interleaved partial sums, which
     * the CPU adds in parallel (one running sum waits on each add's latency), then added in a fixed order. Not
     * finite when a value is not: the loss scaler's overflow test.
     */
    public static double norm(float[] gradient, int length) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int i = 0;
        for (; i + 3 < length; i += 4) {
            s0 += (double) gradient[i] * gradient[i];
            s1 += (double) gradient[i + 1] * gradient[i + 1];
            s2 += (double) gradient[i + 2] * gradient[i + 2];
            s3 += (double) gradient[i + 3] * gradient[i + 3];
        }
        for (; i < length; i++) {
            s0 += (double) gradient[i] * gradient[i];
        }
        return Math.sqrt((s0 + s1) + (s2 + s3));
    }

    /** The factor that clips a gradient of norm {@code norm} to {@code maxNorm}: min(1, max / ‖g‖); 1 when off. */
    public static double factor(double norm, double maxNorm) {
        return maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1.0;
    }
}
