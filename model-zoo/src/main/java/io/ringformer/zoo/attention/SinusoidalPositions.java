package io.ringformer.zoo.attention;

/** The fixed position table of Vaswani et al. 2017, §3.5: PE(p, 2i) = sin(p/10000^(2i/d)), PE(p, 2i+1) = cos(…). */
public final class SinusoidalPositions {

    private SinusoidalPositions() {}

    /** [length, width] */
    public static float[][] table(int length, int width) {
        float[][] table = new float[length][width];
        for (int p = 0; p < length; p++) {
            for (int i = 0; i < width; i += 2) {
                double angle = p / Math.pow(10000.0, (double) i / width);
                table[p][i] = (float) Math.sin(angle);
                if (i + 1 < width) {
                    table[p][i + 1] = (float) Math.cos(angle);
                }
            }
        }
        return table;
    }
}
