package io.ringformer.zoo.fused;

/**
 * The float approximations both kernel implementations use, and their constants: {@link VectorKernels} evaluates
 * the same formulas lane-wise with fused multiply-adds, {@link ScalarKernels} calls these methods, which use plain
 * multiply and add (no {@link Math#fma}, which is software and very slow where the CPU has no FMA).
 *
 * <p>Accuracy, as {@code KernelsTest} measures and bounds it against double references: {@link #exp} relative
 * error 8.4e-8 (bound 2e-7); {@link #erf} absolute error 1.3e-7 over [−6, 6] (bound 1.5e-7); the GELU's relative
 * error 5e-7 for |x| ≤ 3, growing in the lower tail with the rounding of x²/2 in e^(−x²/2) to 2.5e-6 at x = −10,
 * where GELU(x) = −8e-23.
 */
final class FastMath {

    private FastMath() {}

    // exp(x) = 2ⁿ·eʳ with n = round(x·log₂e) and r = x − n·ln 2 ∈ [−ln2/2, ln2/2]: Cody–Waite reduction (ln 2 split
    // into a short high part, exact in n·LN2_HI, and a low part) and the minimax polynomial of Cephes' expf.

    static final float LOG2E = 1.44269504088896341f;
    static final float LN2_HI = 0.693359375f;
    static final float LN2_LO = -2.12194440e-4f;
    /** ln 2⁻¹²⁶: below it eˣ is subnormal, and {@link #exp} returns 0 (an absolute error below 1.2e-38). */
    static final float EXP_MIN = -87.33654f;
    /** exp saturates at e⁸⁸ ≈ 1.65e38 above this (the kernels only take exp of values ≤ 0). */
    static final float EXP_MAX = 88.0f;
    static final float EXP_P5 = 1.9875691500e-4f;
    static final float EXP_P4 = 1.3981999507e-3f;
    static final float EXP_P3 = 8.3334519073e-3f;
    static final float EXP_P2 = 4.1665795894e-2f;
    static final float EXP_P1 = 1.6666665459e-1f;
    static final float EXP_P0 = 5.0000001201e-1f;
    /**
     * 1.5·2²³: adding it to a float of magnitude below 2²² rounds that to an integer n (ties to even), and leaves n
     * in the low mantissa bits, so that (bits + 127) << 23 are the bits of 2ⁿ (the magic's own bits shift out).
     */
    static final float ROUNDING_MAGIC = 12582912f;

    // erfcx(z) = e^(z²)·erfc(z) ≈ t·Q(s) for z ≥ 0, with t = 1/(1 + P·z) and s = P·z·t = 1 − t, both in [0, 1]. Q, of
    // degree 8 with Q(0) = 1, is a minimax fit of the relative error over z ∈ [0, 10] made for this class by
    // model-zoo/tools/fit_erfcx.py: 1.5e-8 with these float coefficients, in exact arithmetic. Q takes s rather than t
    // because s = P·z·t keeps its relative precision for small z, where t ≈ 1 would carry an absolute rounding error
    // of 6e-8 that the polynomial's slope triples (erf's error would be 2.4e-7 instead of 1.3e-7). Past z ≈ 9.3,
    // e^(−z²) underflows and erfcx no longer matters.

    static final float ERFCX_P = 0.375f;
    /** erfcx takes larger z as this, where s = P·z·t would be ∞·0 at z = ∞ (and e^(−z²) has long underflowed). */
    static final float ERFCX_Z_MAX = 1e18f;
    static final float ERFCX_Q1 = -2.009013f;
    static final float ERFCX_Q2 = 2.093168f;
    static final float ERFCX_Q3 = -0.95984316f;
    static final float ERFCX_Q4 = -0.13619113f;
    static final float ERFCX_Q5 = 0.22262287f;
    static final float ERFCX_Q6 = 0.14453343f;
    static final float ERFCX_Q7 = -0.20532532f;
    static final float ERFCX_Q8 = 0.06166277f;

    static final float SQRT_HALF = 0.70710678118654752f;
    /** 1/√(2π): φ(x) = e^(−x²/2)/√(2π). */
    static final float INV_SQRT_2PI = 0.39894228040143268f;

    /** eˣ, relative error below 2e-7 for x in [{@link #EXP_MIN}, {@link #EXP_MAX}]; 0 below, NaN stays NaN. */
    static float exp(float x) {
        if (x < EXP_MIN) {
            return 0f;
        }
        x = Math.min(x, EXP_MAX);
        int n = Math.round(x * LOG2E);
        float r = x - n * LN2_HI - n * LN2_LO;
        float p = ((((EXP_P5 * r + EXP_P4) * r + EXP_P3) * r + EXP_P2) * r + EXP_P1) * r + EXP_P0;
        float er = p * (r * r) + r + 1f;
        return er * Float.intBitsToFloat((n + 127) << 23);
    }

    /**
     * The scaled complementary error function e^(z²)·erfc(z) for z ≥ 0: relative error below 4e-7 for z ≤ 4 and
     * 7e-7 up to 10 (the rounding in evaluating it; the fit itself is 1.5e-8).
     */
    static float erfcx(float z) {
        float pz = ERFCX_P * Math.min(z, ERFCX_Z_MAX);
        float t = 1f / (1f + pz);
        float s = pz * t;
        float q = ERFCX_Q8;
        q = q * s + ERFCX_Q7;
        q = q * s + ERFCX_Q6;
        q = q * s + ERFCX_Q5;
        q = q * s + ERFCX_Q4;
        q = q * s + ERFCX_Q3;
        q = q * s + ERFCX_Q2;
        q = q * s + ERFCX_Q1;
        q = q * s + 1f;
        return t * q;
    }

    /** The error function, absolute error 1.3e-7 (it is 1 − erfc, so not relatively accurate near 0). */
    static float erf(float x) {
        float z = Math.abs(x);
        float value = 1f - erfcx(z) * exp(-z * z);
        return Math.copySign(value, x);
    }

    /** e^(−x²/2), the unnormalised standard normal density (φ(x) = this/√(2π)). */
    static float gaussian(float x) {
        return exp(-0.5f * (x * x));
    }

    /**
     * Φ(x), the standard normal distribution function, given {@code gaussian} = {@link #gaussian}(x): ½·erfc(|x|/√2)
     * is Φ(−|x|), relatively accurate in the lower tail, and Φ(x) = 1 − Φ(−x) above 0.
     */
    static float normalCdf(float x, float gaussian) {
        float lowerTail = 0.5f * erfcx(Math.abs(x) * SQRT_HALF) * gaussian;
        return x < 0f ? lowerTail : 1f - lowerTail;
    }

    /** x·Φ(x), the exact (erf) GELU. */
    static float gelu(float x) {
        return x * normalCdf(x, gaussian(x));
    }

    /** d/dx x·Φ(x) = Φ(x) + x·φ(x). */
    static float geluDerivative(float x) {
        float gaussian = gaussian(x);
        return geluDerivative(x, gaussian, normalCdf(x, gaussian));
    }

    /** The same from {@link #gaussian}(x) and Φ(x) already at hand. */
    static float geluDerivative(float x, float gaussian, float cdf) {
        return cdf + x * (INV_SQRT_2PI * gaussian);
    }

    /**
     * The bfloat16 nearest to x, ties to even, as the upper 16 bits of a float; a NaN stays a (quiet) NaN of the same
     * sign, where plain truncation of its bits could have made it an infinity.
     */
    static short toBf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int lsb = (bits >>> 16) & 1;
        return (short) ((bits + 0x7FFF + lsb) >>> 16);
    }
}
