package io.ringformer.zoo.fused;

/**
 * Straightforward double-precision versions of what the kernels compute, independent of {@link FastMath}: erf from
 * its power series and erfc's continued fraction, and the kernels' forward passes written naively, for the tests.
 */
final class DoubleReference {

    private DoubleReference() {}

    // ---------------------------------------------------------------------------------------------------------------
    // erf, Φ and the GELU

    /** erf(x) to about 1e-16 absolute. */
    static double erf(double x) {
        double z = Math.abs(x);
        double value = z < 2.5 ? erfSeries(z) : 1 - erfcContinuedFraction(z);
        return Math.copySign(value, x);
    }

    /** erfc(x), relatively accurate (about 1e-15) for x ≥ 2.5 too. */
    static double erfc(double x) {
        return x < 2.5 ? 1 - erf(x) : erfcContinuedFraction(x);
    }

    /** erf(z) = 2/√π·e^(−z²)·Σₙ 2ⁿ·z^(2n+1)/(1·3·…·(2n+1)), for z ≥ 0: all terms positive, no cancellation. */
    private static double erfSeries(double z) {
        double term = z;
        double sum = z;
        for (int n = 1; term > 1e-18 * sum; n++) {
            term *= 2 * z * z / (2 * n + 1);
            sum += term;
        }
        return 2 / Math.sqrt(Math.PI) * Math.exp(-z * z) * sum;
    }

    /** erfc(z) = e^(−z²)/√π · 1/(z + ½/(z + 1/(z + (3/2)/(z + …)))), evaluated from the back, for z ≥ 2.5. */
    private static double erfcContinuedFraction(double z) {
        double fraction = z;
        for (int n = 400; n >= 1; n--) {
            fraction = z + (n / 2.0) / fraction;
        }
        return Math.exp(-z * z) / (Math.sqrt(Math.PI) * fraction);
    }

    /** Φ(x) = ½·erfc(−x/√2). */
    static double normalCdf(double x) {
        return 0.5 * erfc(-x / Math.sqrt(2));
    }

    static double gelu(double x) {
        return x * normalCdf(x);
    }

    static double geluDerivative(double x) {
        return normalCdf(x) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Forward passes

    static double[] layerNorm(double[] x, double[] gain, double[] bias, int rows, int width, double eps) {
        double[] y = new double[rows * width];
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            for (int i = 0; i < width; i++) {
                mean += x[r * width + i] / width;
            }
            double variance = 0;
            for (int i = 0; i < width; i++) {
                variance += Math.pow(x[r * width + i] - mean, 2) / width;
            }
            for (int i = 0; i < width; i++) {
                y[r * width + i] = (x[r * width + i] - mean) / Math.sqrt(variance + eps) * gain[i] + bias[i];
            }
        }
        return y;
    }

    /** Causal softmax with scale and ALiBi slopes (or none) as {@link Kernels#causalSoftmax} defines it. */
    static double[] causalSoftmax(double[] z, int groups, int length, int heads, double scale, double[] slopes) {
        double[] p = new double[z.length];
        for (int g = 0; g < groups; g++) {
            double slope = slopes == null ? 0 : slopes[g % heads];
            for (int t = 0; t < length; t++) {
                int row = (g * length + t) * length;
                double[] biased = new double[t + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int s = 0; s <= t; s++) {
                    biased[s] = scale * z[row + s] - slope * (t - s);
                    max = Math.max(max, biased[s]);
                }
                double sum = 0;
                for (int s = 0; s <= t; s++) {
                    sum += Math.exp(biased[s] - max);
                }
                for (int s = 0; s <= t; s++) {
                    p[row + s] = Math.exp(biased[s] - max) / sum;
                }
            }
        }
        return p;
    }

    /** Σ over rows with a target ≥ 0 of −log softmax(logits[r])[target[r]]. */
    static double crossEntropy(double[] logits, int[] targets, int offset, int rows, int vocab) {
        double loss = 0;
        for (int r = 0; r < rows; r++) {
            int target = targets[offset + r];
            if (target >= 0) {
                double sum = 0;
                for (int i = 0; i < vocab; i++) {
                    sum += Math.exp(logits[r * vocab + i]);
                }
                loss += Math.log(sum) - logits[r * vocab + target];
            }
        }
        return loss;
    }

    /** RoPE (GPT-NeoX half split) on the q and k parts of [rows, 3·heads·headDim], as a new array. */
    static double[] rope(double[] qkv, int rows, int length, int heads, int headDim, double[] cos, double[] sin,
                         boolean inverse) {
        double[] out = qkv.clone();
        int half = headDim / 2;
        for (int r = 0; r < rows; r++) {
            int position = r % length;
            for (int block = 0; block < 2 * heads; block++) {
                int base = r * 3 * heads * headDim + block * headDim;
                for (int i = 0; i < half; i++) {
                    double c = cos[position * half + i];
                    double s = (inverse ? -1 : 1) * sin[position * half + i];
                    double a = qkv[base + i];
                    double b = qkv[base + half + i];
                    out[base + i] = a * c - b * s;
                    out[base + half + i] = b * c + a * s;
                }
            }
        }
        return out;
    }

    static double[] embed(int[] tokens, int offset, double[] wte, double tokenScale, double[] positions, int rows,
                          int length, int width) {
        double[] x = new double[rows * width];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < width; i++) {
                double position = positions == null ? 0 : positions[(r % length) * width + i];
                x[r * width + i] = tokenScale * wte[tokens[offset + r] * width + i] + position;
            }
        }
        return x;
    }

    /**
     * The bfloat16 nearest to x, ties to the even one, found by comparing the distances to the two candidates
     * around x (the truncation and the next bfloat16 away from zero) in double; past the largest finite bfloat16
     * the next one counts as ±2¹²⁸, so that overflow rounds as IEEE says.
     */
    static short toBf16(float x) {
        if (Float.isNaN(x) || Float.isInfinite(x)) {
            return (short) (Float.floatToRawIntBits(x) >>> 16);
        }
        int truncated = Float.floatToRawIntBits(x) >>> 16;
        int next = truncated + 1;
        double below = Math.abs(bf16Value(truncated) - x);
        double above = Math.abs(bf16Value(next) - x);
        if (below < above || below == above && (truncated & 1) == 0) {
            return (short) truncated;
        }
        return (short) next;
    }

    private static double bf16Value(int bits) {
        if ((bits & 0x7F80) == 0x7F80) {
            return Math.copySign(Math.scalb(1.0, 128), (bits & 0x8000) == 0 ? 1 : -1);
        }
        return Float.intBitsToFloat(bits << 16);
    }
}
