package io.ringformer.worker.optim;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter 2019) over one flat fp32 parameter vector, as PyTorch's
 * AdamW: θ ← θ − lr·λ·θ (only where {@code decay[i]}), then θ ← θ − lr·m̂/(√v̂ + ε). The state is two flat
 * vectors and the step count, so a checkpoint is three arrays.
 */
public final class AdamW {

    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final float[] m;
    private final float[] v;
    private boolean[] decayMask;   // the last mask seen, and the same as 1/0 floats: a loop without branches,
    private float[] decayWeights;  // which the JIT's superword pass can vectorise
    private long steps;

    public AdamW(int size, double beta1, double beta2, double eps, double weightDecay) {
        if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1 || eps <= 0 || weightDecay < 0) {
            throw new IllegalArgumentException("need 0 ≤ beta1, beta2 < 1, eps > 0 and weight_decay ≥ 0");
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.m = new float[size];
        this.v = new float[size];
    }

    /**
     * One update of {@code params} in place.
     *
     * @param decay which elements take weight decay (matrices), or null for all
     */
    public void update(float[] params, float[] gradient, boolean[] decay, double lr) {
        update(params, gradient, decay, lr, 1f);
    }

    /**
     * As above with the gradient taken as {@code gradScale · gradient}: the trainer folds the loss scale's inverse
     * and the clipping factor in here, so that neither needs a pass over the gradient of its own.
     */
    public void update(float[] params, float[] gradient, boolean[] decay, double lr, float gradScale) {
        steps++;
        double correction1 = 1.0 - Math.pow(beta1, steps);
        double correction2 = 1.0 - Math.pow(beta2, steps);
        float stepSize = (float) (lr / correction1);
        float b1 = (float) beta1, b2 = (float) beta2;
        float rootCorrection2 = (float) Math.sqrt(correction2);
        float epsilon = (float) eps;
        float decayRate = (float) (lr * weightDecay);
        float[] decays = decayWeights(decay, params.length);
        for (int i = 0; i < params.length; i++) {
            float g = gradient[i] * gradScale;
            float mi = b1 * m[i] + (1 - b1) * g;
            float vi = b2 * v[i] + (1 - b2) * g * g;
            m[i] = mi;
            v[i] = vi;
            float p = params[i] * (1 - decayRate * decays[i]);
            params[i] = p - stepSize * mi / ((float) Math.sqrt(vi) / rootCorrection2 + epsilon);
        }
    }

    /** 1 where an element takes weight decay, 0 where not; all 1 for a null mask. */
    private float[] decayWeights(boolean[] decay, int size) {
        if (decayWeights == null || decay != decayMask) {
            decayWeights = new float[size];
            for (int i = 0; i < size; i++) {
                decayWeights[i] = decay == null || decay[i] ? 1f : 0f;
            }
            decayMask = decay;
        }
        return decayWeights;
    }

    public float[] firstMoment() {
        return m;
    }

    public float[] secondMoment() {
        return v;
    }

    public long steps() {
        return steps;
    }

    /** Restores state saved from {@link #firstMoment()}, {@link #secondMoment()} and {@link #steps()}. */
    public void restore(float[] firstMoment, float[] secondMoment, long stepCount) {
        if (firstMoment.length != m.length || secondMoment.length != v.length) {
            throw new IllegalArgumentException("optimizer state holds " + firstMoment.length
                    + " values but the model has " + m.length + " parameters");
        }
        System.arraycopy(firstMoment, 0, m, 0, m.length);
        System.arraycopy(secondMoment, 0, v, 0, v.length);
        steps = stepCount;
    }
}
