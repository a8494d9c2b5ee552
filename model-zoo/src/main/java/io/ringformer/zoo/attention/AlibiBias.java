package io.ringformer.zoo.attention;

/**
 * Attention with linear biases (Press, Smith and Lewis 2022, "Train Short, Test Long"): head h adds
 * −mₕ·(distance from query to key) to its scores. For n a power of two the slopes are the geometric sequence
 * 2^(−8/n), 2^(−16/n), …, 2^(−8); for other n, the paper's code takes the slopes of the closest lower power of
 * two and fills up with every other slope of twice that many heads.
 */
public final class AlibiBias {

    private AlibiBias() {}

    public static double[] slopes(int heads) {
        int closest = Integer.highestOneBit(heads);
        double[] base = powerOfTwoSlopes(closest);
        double[] slopes = new double[heads];
        System.arraycopy(base, 0, slopes, 0, closest);
        double[] extra = powerOfTwoSlopes(2 * closest);
        for (int i = closest; i < heads; i++) {
            slopes[i] = extra[2 * (i - closest)];
        }
        return slopes;
    }

    private static double[] powerOfTwoSlopes(int n) {
        double start = Math.pow(2.0, -8.0 / n);
        double[] slopes = new double[n];
        for (int i = 0; i < n; i++) {
            slopes[i] = Math.pow(start, i + 1);
        }
        return slopes;
    }

    /**
     * [H][T][S]: −mₕ·|t + (S − T) − s|. Under a causal mask only keys at or before the query remain, where this
     * is the paper's −mₕ·(t − s); without one (encoders) the distance is symmetric.
     */
    public static float[][][] bias(int heads, int queryLength, int keyLength) {
        double[] slopes = slopes(heads);
        int offset = keyLength - queryLength;
        float[][][] bias = new float[heads][queryLength][keyLength];
        for (int h = 0; h < heads; h++) {
            for (int t = 0; t < queryLength; t++) {
                for (int s = 0; s < keyLength; s++) {
                    bias[h][t][s] = (float) (-slopes[h] * Math.abs(t + offset - s));
                }
            }
        }
        return bias;
    }
}
