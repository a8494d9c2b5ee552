package io.ringformer.zoo.fused;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.stream.Stream;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The kernels: {@link VectorKernels} against {@link ScalarKernels} on odd sizes (tails), both against naive double
 * references, backward passes against central finite differences of the double forward passes, the accuracy of
 * {@link FastMath}'s exp and erf, and that the vector kernels neither need the module to link nor allocate once
 * compiled.
 *
 * <p>Tolerances: the two implementations differ only in rounding (fused multiply-adds in the vector code, and the
 * order of sums), a few ulp, so they must agree within 1e-6 relative (≈ 8 ulp) plus, where values come out of
 * sums with cancellation, 1e-6 of the output's scale; where both do the same float operations they must agree
 * exactly. Against double references the float result carries its own rounding, a few times 6e-8 relative.
 */
class KernelsTest {

    private static final ScalarKernels SCALAR = new ScalarKernels();
    /** Widths, vocabularies and head dimensions around the vector length (16 floats at 512 bits): tails matter. */
    private static final int[] ODD_SIZES = {1, 7, 17, 33, 127, 129};

    static Stream<Kernels> implementations() {
        return Stream.of(SCALAR, new VectorKernels());
    }

    // ===============================================================================================================
    // Availability

    @Test
    void theVectorApiIsAvailableWithTheBuildsFlags() {
        assertTrue(VectorKernels.isAvailable(), "surefire runs with --add-modules jdk.incubator.vector");
        assertInstanceOf(VectorKernels.class, Kernels.best());
        assertTrue(Kernels.best().name().matches("vector \\(\\d+-bit\\)"), Kernels.best().name());
        assertEquals("scalar", SCALAR.name());
    }

    /** Prints isAvailable() and best().name(): run in a JVM without the module. */
    public static final class WithoutTheModule {
        public static void main(String[] args) {
            System.out.println(VectorKernels.isAvailable() + " " + Kernels.best().name());
        }
    }

    @Test
    void withoutTheModuleVectorKernelsIsUnavailableAndBestIsScalar() throws IOException, InterruptedException {
        String classpath = location(Kernels.class) + java.io.File.pathSeparator + location(WithoutTheModule.class);
        ProcessBuilder builder = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", classpath,
                WithoutTheModule.class.getName()).redirectErrorStream(true);
        builder.environment().remove("JDK_JAVA_OPTIONS");
        builder.environment().remove("JAVA_TOOL_OPTIONS");
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, process.exitValue(), output);
        assertEquals("false scalar", output);
    }

    private static String location(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    // ===============================================================================================================
    // FastMath against double references

    @Test
    void theDoubleReferenceMatchesTabulatedValues() {
        // mpmath at 30 digits
        assertEquals(0.11246291601828489, DoubleReference.erf(0.1), 3e-16);
        assertEquals(0.52049987781304654, DoubleReference.erf(0.5), 3e-16);
        assertEquals(-0.84270079294971487, DoubleReference.erf(-1), 3e-16);
        assertEquals(0.99532226501895273, DoubleReference.erf(2), 3e-16);
        assertEquals(0.99959304798255504, DoubleReference.erf(2.5), 3e-16);
        assertRelative(0.0046777349810472658, DoubleReference.erfc(2), 1e-13);
        assertRelative(0.00040695201744495894, DoubleReference.erfc(2.5), 1e-14);
        assertRelative(2.2090496998585441e-5, DoubleReference.erfc(3), 1e-14);
        assertRelative(1.5374597944280349e-12, DoubleReference.erfc(5), 1e-14);
        assertRelative(2.1519736712498913e-17, DoubleReference.erfc(6), 1e-14);
        assertRelative(2.0884875837625448e-45, DoubleReference.erfc(10), 1e-14);
        assertRelative(-5.9195258702261888e-9, DoubleReference.gelu(-6), 1e-14);
    }

    /** Every 1/4096 over [−88, 88] and 10⁶ random points: relative error below 2e-7 (scalar and vector). */
    @Test
    void expIsAccurateTo2e7Relative() {
        float[] xs = new float[2 * 88 * 4096 + 1_000_000];
        int count = 0;
        for (int i = -88 * 4096; i < 88 * 4096; i++) {
            xs[count++] = i / 4096f;
        }
        Random random = new Random(1);
        while (count < xs.length) {
            xs[count++] = (float) (random.nextDouble() * (FastMath.EXP_MAX - FastMath.EXP_MIN) + FastMath.EXP_MIN);
        }
        double scalarError = 0;
        double vectorError = 0;
        float[] vectorExp = vectorExp(xs);
        for (int i = 0; i < xs.length; i++) {
            float x = xs[i];
            if (x < FastMath.EXP_MIN || x > FastMath.EXP_MAX) {
                continue;
            }
            double exact = Math.exp(x);
            scalarError = Math.max(scalarError, Math.abs(FastMath.exp(x) - exact) / exact);
            vectorError = Math.max(vectorError, Math.abs(vectorExp[i] - exact) / exact);
        }
        System.out.printf("exp max relative error: scalar %.3g, vector %.3g%n", scalarError, vectorError);
        assertTrue(scalarError < 2e-7, "scalar " + scalarError);
        assertTrue(vectorError < 2e-7, "vector " + vectorError);
    }

    @Test
    void expAtTheEdges() {
        float[] xs = {0f, -1e-30f, -100f, Float.NEGATIVE_INFINITY, Float.NaN, -87.3f, -87.4f, 1f};
        float[] vector = vectorExp(xs);
        for (int i = 0; i < xs.length; i++) {
            float x = xs[i];
            double expected = x < FastMath.EXP_MIN ? 0 : Math.exp(x);
            for (float actual : new float[] {FastMath.exp(x), vector[i]}) {
                if (Float.isNaN(x)) {
                    assertTrue(Float.isNaN(actual));
                } else {
                    assertEquals(expected, actual, 2e-7 * expected, "exp(" + x + ")");
                }
            }
        }
        assertEquals(1f, FastMath.exp(0f));
    }

    /** {@link VectorLoops#exp} over an array (padded to whole vectors). */
    private static float[] vectorExp(float[] xs) {
        int lanes = VectorLoops.LANES;
        float[] padded = new float[(xs.length + lanes - 1) / lanes * lanes];
        System.arraycopy(xs, 0, padded, 0, xs.length);
        float[] out = new float[padded.length];
        for (int i = 0; i < padded.length; i += lanes) {
            VectorLoops.exp(FloatVector.fromArray(VectorLoops.SPECIES, padded, i)).intoArray(out, i);
        }
        return out;
    }

    /**
     * erf over [−6, 6] every 1/65536, scalar and from the vector erfcx and exp: absolute error within 1.5e-7 (about 2
     * ulp of 1, where erf approaches ±1; it is 1 − erfcx(|x|)·e^(−x²)).
     */
    @Test
    void erfIsAccurateTo1e7Absolute() {
        int n = 12 * 65536 + 1;
        float[] xs = new float[n];
        float[] negativeSquares = new float[n];
        float[] magnitudes = new float[n];
        for (int i = 0; i < n; i++) {
            xs[i] = (i - 6 * 65536) / 65536f;
            magnitudes[i] = Math.abs(xs[i]);
            negativeSquares[i] = -xs[i] * xs[i];
        }
        float[] vectorExp = vectorExp(negativeSquares);
        float[] vectorErfcx = vectorErfcx(magnitudes);
        double scalarError = 0;
        double vectorError = 0;
        double worstX = 0;
        for (int i = 0; i < n; i++) {
            double exact = DoubleReference.erf(xs[i]);
            double error = Math.abs(FastMath.erf(xs[i]) - exact);
            if (error > scalarError) {
                scalarError = error;
                worstX = xs[i];
            }
            float vectorErf = Math.copySign(1f - vectorErfcx[i] * vectorExp[i], xs[i]);
            vectorError = Math.max(vectorError, Math.abs(vectorErf - exact));
        }
        System.out.printf("erf max absolute error over [-6, 6]: scalar %.3g (at %s), vector %.3g%n", scalarError,
                          worstX, vectorError);
        assertTrue(scalarError < 1.5e-7, scalarError + " at " + worstX);
        assertTrue(vectorError < 1.5e-7, "vector " + vectorError);
        assertEquals(1f, FastMath.erf(10f));
        assertEquals(-1f, FastMath.erf(Float.NEGATIVE_INFINITY));
        assertEquals(0f, FastMath.erf(0f));
    }

    /** {@link VectorLoops#erfcx} over an array (padded to whole vectors). */
    private static float[] vectorErfcx(float[] zs) {
        int lanes = VectorLoops.LANES;
        float[] padded = new float[(zs.length + lanes - 1) / lanes * lanes];
        System.arraycopy(zs, 0, padded, 0, zs.length);
        float[] out = new float[padded.length];
        for (int i = 0; i < padded.length; i += lanes) {
            VectorLoops.erfcx(FloatVector.fromArray(VectorLoops.SPECIES, padded, i)).intoArray(out, i);
        }
        return out;
    }

    /**
     * erfcx, which Φ's lower tail rests on, relatively within 4e-7 for z ≤ 4 and 7e-7 for z ≤ 10 (beyond, e^(−z²)
     * underflows), scalar and vector: the rounding in evaluating the polynomial, which is fitted to 1.5e-8.
     */
    @Test
    void erfcxIsRelativelyAccurate() {
        int n = 10 * 4096 + 1;
        float[] zs = new float[n];
        for (int i = 0; i < n; i++) {
            zs[i] = i / 4096f;
        }
        float[] vector = vectorErfcx(zs);
        double[] nearErrors = new double[2]; // scalar, vector over [0, 4]
        double[] farErrors = new double[2]; // over (4, 10]
        for (int i = 0; i < n; i++) {
            float z = zs[i];
            double exact = z < 5 ? DoubleReference.erfc(z) * Math.exp((double) z * z) : erfcxAsymptotic(z);
            double[] errors = z <= 4 ? nearErrors : farErrors;
            errors[0] = Math.max(errors[0], Math.abs(FastMath.erfcx(z) - exact) / exact);
            errors[1] = Math.max(errors[1], Math.abs(vector[i] - exact) / exact);
        }
        System.out.printf("erfcx max relative error: scalar %.3g over [0, 4], %.3g over [4, 10]; vector %.3g, %.3g%n",
                          nearErrors[0], farErrors[0], nearErrors[1], farErrors[1]);
        for (int k = 0; k < 2; k++) {
            assertTrue(nearErrors[k] < 4e-7, "" + nearErrors[k]);
            assertTrue(farErrors[k] < 7e-7, "" + farErrors[k]);
        }
    }

    /** e^(z²)·erfc(z) from the continued fraction without the exponential, which would underflow for large z. */
    private static double erfcxAsymptotic(double z) {
        double fraction = z;
        for (int n = 400; n >= 1; n--) {
            fraction = z + (n / 2.0) / fraction;
        }
        return 1 / (Math.sqrt(Math.PI) * fraction);
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void geluKnownValues(Kernels kernels) {
        float[] xs = {1f, -1f, 0.5f, -3f, 3f, -6f, 0f};
        double[] expected = {0.84134474606854295, -0.15865525393145705, 0.34573123063700655, -0.0040496940948902836,
                2.9959503059051097, -5.9195258702261888e-9, 0};
        // Repeated so each value is computed in the vector part and in the scalar tail.
        int n = 3 * xs.length * VectorLoops.LANES + 3;
        ByteBuffer x = buffer(n);
        for (int i = 0; i < n; i++) {
            put(x, i, xs[i % xs.length]);
        }
        ByteBuffer y = buffer(n);
        ByteBuffer slope = buffer(n);
        kernels.gelu(x, y, slope, n);
        ByteBuffer alone = buffer(n);
        kernels.gelu(x, alone, null, n);
        for (int i = 0; i < n; i++) {
            assertEquals(get(y, i), get(alone, i), 0f, "gelu with and without its slope at " + i);
            float v = xs[i % xs.length];
            double e = expected[i % xs.length];
            assertEquals(e, get(y, i), geluTolerance(v) * Math.abs(e), "gelu(" + v + ") at " + i);
        }
        assertEquals(0.8413447f, get(y, 0), 1e-7f);
    }

    /**
     * GELU's relative tolerance at x: 5e-7 (a few ulp, and erfcx's rounding), plus what grows in the tails: the
     * rounding of x² in e^(−x²/2), which shifts the result relatively by up to x²/2·6e-8, and erfcx's error for large
     * arguments (1e-6 at x = 10, where GELU is 8e-23).
     */
    private static double geluTolerance(double x) {
        return 5e-7 + 5e-8 * x * x;
    }

    /**
     * Φ(x) + |x|·φ(x): the size of the terms of GELU's derivative Φ(x) + x·φ(x), which cancel near x ≈ −0.75 (where
     * the derivative crosses 0) and in the lower tail, so its error is relative to this, not to the derivative.
     */
    private static double geluDerivativeScale(double x) {
        return DoubleReference.normalCdf(x) + Math.abs(x) * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
    }

    /**
     * Over [−10, 10]: gelu relatively within {@link #geluTolerance}, its derivative within that of
     * {@link #geluDerivativeScale}.
     */
    @ParameterizedTest
    @MethodSource("implementations")
    void geluAndItsDerivativeMatchTheDoubleReference(Kernels kernels) {
        int n = 20 * 4096 + 1;
        ByteBuffer x = buffer(n);
        for (int i = 0; i < n; i++) {
            put(x, i, -10f + i / 4096f);
        }
        ByteBuffer y = buffer(n);
        ByteBuffer ones = buffer(n);
        for (int i = 0; i < n; i++) {
            put(ones, i, 1f);
        }
        ByteBuffer slope = buffer(n);
        ByteBuffer derivative = buffer(n);
        kernels.gelu(x, y, slope, n);
        kernels.geluBackward(ones, slope, derivative, n);
        double[] expectedY = new double[n];
        double[] expectedDerivative = new double[n];
        for (int i = 0; i < n; i++) {
            expectedY[i] = DoubleReference.gelu(get(x, i));
            expectedDerivative[i] = DoubleReference.geluDerivative(get(x, i));
        }
        double worstGelu = 0;
        double worstDerivative = 0;
        for (int i = 0; i < n; i++) {
            double v = get(x, i);
            double geluError = Math.abs(get(y, i) - expectedY[i]) / Math.abs(expectedY[i]);
            double derivativeError = Math.abs(get(derivative, i) - expectedDerivative[i]) / geluDerivativeScale(v);
            assertTrue(v == 0 ? get(y, i) == 0 : geluError <= geluTolerance(v),
                       "gelu(" + v + ") = " + get(y, i) + ", expected " + expectedY[i]);
            assertTrue(derivativeError <= geluTolerance(v),
                       "gelu'(" + v + ") = " + get(derivative, i) + ", expected " + expectedDerivative[i]);
            if (Math.abs(v) <= 3) {
                worstGelu = Math.max(worstGelu, v == 0 ? 0 : geluError);
                worstDerivative = Math.max(worstDerivative, derivativeError);
            }
        }
        System.out.printf("%s over [-3, 3]: gelu max relative error %.3g, gelu' max error/(Φ + |x|φ) %.3g%n",
                          kernels.name(), worstGelu, worstDerivative);
    }

    // ===============================================================================================================
    // Vector against scalar on odd sizes

    @Test
    void layerNormAgrees() {
        for (int width : ODD_SIZES) {
            Random random = new Random(width);
            int rows = 5;
            ByteBuffer x = uniform(random, rows * width, -2, 3);
            ByteBuffer gain = uniform(random, width, 0.5, 1.5);
            ByteBuffer bias = uniform(random, width, -1, 1);
            Map<String, ByteBuffer> scalar = new LinkedHashMap<>();
            Map<String, ByteBuffer> vector = new LinkedHashMap<>();
            for (Map<String, ByteBuffer> out : List.of(scalar, vector)) {
                out.put("y", buffer(rows * width));
                out.put("mean", buffer(rows));
                out.put("rstd", buffer(rows));
                (out == scalar ? SCALAR : new VectorKernels()).layerNorm(x, gain, bias, out.get("y"),
                        out.get("mean"), out.get("rstd"), rows, width, 1e-5f);
            }
            // y is O(1) and inherits the mean's summation-order rounding (scale ≈ |x|·rstd): absolute 1e-6.
            assertAgree("layerNorm width " + width, scalar, vector, 1e-6, 1e-6);
        }
    }

    @Test
    void layerNormBackwardAgrees() {
        for (int width : ODD_SIZES) {
            Random random = new Random(width);
            int rows = 5;
            ByteBuffer x = uniform(random, rows * width, -2, 3);
            ByteBuffer gain = uniform(random, width, 0.5, 1.5);
            ByteBuffer mean = buffer(rows);
            ByteBuffer rstd = buffer(rows);
            SCALAR.layerNorm(x, gain, buffer(width), buffer(rows * width), mean, rstd, rows, width, 1e-5f);
            ByteBuffer dy = uniform(random, rows * width, -1, 1);
            ByteBuffer dx = uniform(random, rows * width, -1, 1);
            Map<String, ByteBuffer> scalar = new LinkedHashMap<>();
            Map<String, ByteBuffer> vector = new LinkedHashMap<>();
            for (Map<String, ByteBuffer> out : List.of(scalar, vector)) {
                out.put("dx", copy(dx));
                out.put("dGain", uniform(random, width, -9, 9));
                out.put("dBias", uniform(random, width, -9, 9));
                (out == scalar ? SCALAR : new VectorKernels()).layerNormBackward(dy, x, gain, mean, rstd,
                        out.get("dx"), out.get("dGain"), out.get("dBias"), rows, width);
            }
            // dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) cancels terms of size rstd·|g| ≈ 2: absolute 2e-6.
            assertAgree("layerNormBackward width " + width, scalar, vector, 1e-6, 2e-6);
        }
    }

    @Test
    void geluAndGeluBackwardAgree() {
        for (int n = 1; n <= 200; n += n < 70 ? 1 : 59) {
            Random random = new Random(n);
            ByteBuffer x = uniform(random, n, -8, 8);
            ByteBuffer dy = uniform(random, n, -1, 1);
            ByteBuffer scalarY = buffer(n);
            ByteBuffer vectorY = buffer(n);
            ByteBuffer scalarSlope = buffer(n);
            ByteBuffer vectorSlope = buffer(n);
            SCALAR.gelu(x, scalarY, scalarSlope, n);
            new VectorKernels().gelu(x, vectorY, vectorSlope, n);
            // The same formula, fused multiply-adds or not: purely relative (tiny values in the tail too).
            assertClose("gelu n " + n, doubles(scalarY), doubles(vectorY), 1e-6, 0);
            ByteBuffer scalarDx = buffer(n);
            ByteBuffer vectorDx = buffer(n);
            SCALAR.geluBackward(dy, scalarSlope, scalarDx, n);
            new VectorKernels().geluBackward(dy, vectorSlope, vectorDx, n);
            // Φ(x) + x·φ(x) cancels near x ≈ −0.75 and in the lower tail: within 1e-6 of its terms' size.
            for (int i = 0; i < n; i++) {
                double tolerance = 1e-6 * Math.abs(get(dy, i)) * geluDerivativeScale(get(x, i));
                assertEquals(get(scalarDx, i), get(vectorDx, i), tolerance, "geluBackward at " + get(x, i));
            }
        }
    }

    @Test
    void causalSoftmaxAndItsBackwardAgree() {
        int heads = 3;
        int groups = 2 * heads;
        for (int length = 1; length <= 70; length++) {
            Random random = new Random(length);
            float[] slopes = {0.5f, 0.0625f, 0.25f};
            for (float[] slopeChoice : new float[][] {null, slopes}) {
                ByteBuffer scores = uniform(random, groups * length * length, -3, 3);
                ByteBuffer scalarP = copy(scores);
                ByteBuffer vectorP = copy(scores);
                SCALAR.causalSoftmax(scalarP, groups, length, heads, 0.35f, slopeChoice);
                new VectorKernels().causalSoftmax(vectorP, groups, length, heads, 0.35f, slopeChoice);
                // Biased scores reach slope·t ≈ 35, whose rounding (ulp 4e-6) the two do differently (fma):
                // p then differs relatively by up to ≈ 2e-6.
                double relative = slopeChoice == null ? 1e-6 : 4e-6;
                assertClose("causalSoftmax length " + length, doubles(scalarP), doubles(vectorP), relative, 1e-30);

                ByteBuffer dp = uniform(random, groups * length * length, -1, 1);
                ByteBuffer scalarDs = copy(dp);
                ByteBuffer vectorDs = copy(dp);
                SCALAR.causalSoftmaxBackward(scalarP, scalarDs, groups, length, 0.35f);
                new VectorKernels().causalSoftmaxBackward(scalarP, vectorDs, groups, length, 0.35f);
                // ds = scale·p·(dp − Σ p·dp): the difference cancels terms of size |dp| ≤ 1.
                assertClose("causalSoftmaxBackward length " + length, doubles(scalarDs), doubles(vectorDs), 1e-6,
                            1e-7);
            }
        }
    }

    /** Against a double reference: every row of sequence b softmaxes over its keys s < keys[b], zeros beyond. */
    @Test
    void keySoftmaxAndItsBackwardMatchTheReference() {
        int heads = 2;
        int sequences = 3;
        int groups = sequences * heads;
        for (int length : new int[] {1, 5, 17, 33}) {
            Random random = new Random(length);
            int[] keys = {length, Math.max(1, length - 3), 1};
            for (int[] keyChoice : new int[][] {null, keys}) {
                for (Kernels kernels : new Kernels[] {SCALAR, new VectorKernels()}) {
                    ByteBuffer scores = uniform(random, groups * length * length, -3, 3);
                    ByteBuffer p = copy(scores);
                    kernels.keySoftmax(p, groups, length, heads, 0.35f, keyChoice);
                    ByteBuffer dp = uniform(random, groups * length * length, -1, 1);
                    ByteBuffer ds = copy(dp);
                    kernels.keySoftmaxBackward(p, ds, groups, length, heads, 0.35f, keyChoice);
                    for (int group = 0; group < groups; group++) {
                        int real = keyChoice == null ? length : keyChoice[group / heads];
                        for (int t = 0; t < length; t++) {
                            int row = (group * length + t) * length;
                            double max = Double.NEGATIVE_INFINITY;
                            for (int s = 0; s < real; s++) {
                                max = Math.max(max, 0.35 * get(scores, row + s));
                            }
                            double z = 0;
                            for (int s = 0; s < real; s++) {
                                z += Math.exp(0.35 * get(scores, row + s) - max);
                            }
                            double dot = 0;
                            for (int s = 0; s < real; s++) {
                                dot += Math.exp(0.35 * get(scores, row + s) - max) / z * get(dp, row + s);
                            }
                            for (int s = 0; s < length; s++) {
                                double expected = s < real ? Math.exp(0.35 * get(scores, row + s) - max) / z : 0;
                                assertEquals(expected, get(p, row + s), 1e-6 * expected + 1e-30,
                                        kernels.name() + " p, length " + length + " row " + t + " key " + s);
                                double gradient = s < real ? 0.35 * expected * (get(dp, row + s) - dot) : 0;
                                assertEquals(gradient, get(ds, row + s), 1e-6,
                                        kernels.name() + " ds, length " + length + " row " + t + " key " + s);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void crossEntropyAgrees() {
        for (int vocab : new int[] {1, 7, 17, 33, 65, 127, 129}) {
            Random random = new Random(vocab);
            int rows = 9;
            ByteBuffer logits = uniform(random, rows * vocab, -6, 6);
            int[] targets = new int[rows + 3];
            for (int i = 0; i < targets.length; i++) {
                targets[i] = i % 4 == 1 ? -1 : random.nextInt(vocab);
            }
            ByteBuffer scalarD = uniform(random, rows * vocab, -1, 1);
            ByteBuffer vectorD = copy(scalarD);
            double scalarLoss = SCALAR.crossEntropy(logits, targets, 3, scalarD, rows, vocab, 0.3f);
            double vectorLoss = new VectorKernels().crossEntropy(logits, targets, 3, vectorD, rows, vocab, 0.3f);
            assertRelative(scalarLoss, vectorLoss, 1e-6);
            assertEquals(scalarLoss, SCALAR.crossEntropyLoss(logits, targets, 3, rows, vocab));
            assertEquals(vectorLoss, new VectorKernels().crossEntropyLoss(logits, targets, 3, rows, vocab));
            // dLogits = 0.3·(p − onehot): p relatively within a few ulp; the target's entry cancels against 0.3.
            assertClose("crossEntropy vocab " + vocab, doubles(scalarD), doubles(vectorD), 1e-6, 1e-7);
        }
    }

    @Test
    void columnSumsAndAddAgreeExactly() {
        // fma(a, 1, b) rounds a + b once, as the scalar a + b does: the same float operations, bit for bit.
        for (int columns : ODD_SIZES) {
            Random random = new Random(columns);
            int rows = 11;
            ByteBuffer dy = uniform(random, rows * columns, -1, 1);
            ByteBuffer scalar = uniform(random, columns, -1, 1);
            ByteBuffer vector = uniform(random, columns, -1, 1);
            SCALAR.columnSums(dy, scalar, rows, columns);
            new VectorKernels().columnSums(dy, vector, rows, columns);
            assertClose("columnSums " + columns, doubles(scalar), doubles(vector), 0, 0);

            ByteBuffer a = uniform(random, rows * columns, -1, 1);
            ByteBuffer b = uniform(random, rows * columns, -1, 1);
            ByteBuffer scalarSum = buffer(rows * columns);
            ByteBuffer vectorSum = copy(a);
            SCALAR.add(a, b, scalarSum, rows * columns);
            new VectorKernels().add(vectorSum, b, vectorSum, rows * columns); // out aliases a
            assertClose("add " + columns, doubles(scalarSum), doubles(vectorSum), 0, 0);
        }
    }

    @Test
    void ropeAgreesExactly() {
        // a·cos − b·sin and b·cos + a·sin, lane-wise or not, are the same float operations: bit for bit.
        for (int half : ODD_SIZES) {
            int headDim = 2 * half;
            Random random = new Random(half);
            int rows = 6;
            int length = 4;
            int heads = 2;
            ByteBuffer qkv = uniform(random, rows * 3 * heads * headDim, -1, 1);
            ByteBuffer[] cosSin = angles(length, headDim);
            for (boolean inverse : new boolean[] {false, true}) {
                ByteBuffer scalar = copy(qkv);
                ByteBuffer vector = copy(qkv);
                SCALAR.rope(scalar, rows, length, heads, headDim, cosSin[0], cosSin[1], inverse);
                new VectorKernels().rope(vector, rows, length, heads, headDim, cosSin[0], cosSin[1], inverse);
                assertClose("rope headDim " + headDim, doubles(scalar), doubles(vector), 0, 0);
            }
        }
    }

    @Test
    void embedAndItsBackwardAgree() {
        for (int width : ODD_SIZES) {
            Random random = new Random(width);
            int rows = 10;
            int length = 4;
            int vocab = 5;
            int[] tokens = random.ints(rows + 2, 0, vocab).toArray();
            ByteBuffer wte = uniform(random, vocab * width, -1, 1);
            ByteBuffer positions = uniform(random, length * width, -1, 1);
            for (ByteBuffer withPositions : new ByteBuffer[] {positions, null}) {
                ByteBuffer scalarX = buffer(rows * width);
                ByteBuffer vectorX = buffer(rows * width);
                SCALAR.embed(tokens, 2, wte, 1.7f, withPositions, scalarX, rows, length, width);
                new VectorKernels().embed(tokens, 2, wte, 1.7f, withPositions, vectorX, rows, length, width);
                // 1.7·w + p with one rounding (fma) or two.
                assertClose("embed " + width, doubles(scalarX), doubles(vectorX), 1e-6, 1e-7);

                ByteBuffer dx = uniform(random, rows * width, -1, 1);
                ByteBuffer scalarDWte = uniform(random, vocab * width, -1, 1);
                ByteBuffer vectorDWte = copy(scalarDWte);
                ByteBuffer scalarDPositions = withPositions == null ? null : uniform(random, length * width, -1, 1);
                ByteBuffer vectorDPositions = withPositions == null ? null : copy(scalarDPositions);
                SCALAR.embedBackward(tokens, 2, dx, 1.7f, scalarDWte, scalarDPositions, rows, length, width);
                new VectorKernels().embedBackward(tokens, 2, dx, 1.7f, vectorDWte, vectorDPositions, rows, length,
                                                  width);
                // Sums of up to 10 terms of size ≤ 1.7 with or without fma: absolute 1e-6.
                assertClose("embedBackward dWte " + width, doubles(scalarDWte), doubles(vectorDWte), 1e-6, 1e-6);
                if (withPositions != null) {
                    assertClose("embedBackward dPositions " + width, doubles(scalarDPositions),
                                doubles(vectorDPositions), 0, 0);
                }
            }
        }
    }

    @Test
    void toBf16AgreesExactly() {
        for (int n : new int[] {1, 7, 17, 33, 127, 129, 1000}) {
            ByteBuffer src = specialFloats(new Random(n), n);
            ByteBuffer scalar = ByteBuffer.allocateDirect(2 * n).order(ByteOrder.nativeOrder());
            ByteBuffer vector = ByteBuffer.allocateDirect(2 * n).order(ByteOrder.nativeOrder());
            SCALAR.toBf16(src, scalar, n);
            new VectorKernels().toBf16(src, vector, n);
            for (int i = 0; i < n; i++) {
                assertEquals(scalar.getShort(2 * i), vector.getShort(2 * i), "toBf16 of " + get(src, i));
            }
        }
    }

    // ===============================================================================================================
    // Forward kernels against double references

    @ParameterizedTest
    @MethodSource("implementations")
    void layerNormMatchesTheDoubleReference(Kernels kernels) {
        for (int width : ODD_SIZES) {
            Random random = new Random(width);
            int rows = 4;
            ByteBuffer x = uniform(random, rows * width, -2, 3);
            ByteBuffer gain = uniform(random, width, 0.5, 1.5);
            ByteBuffer bias = uniform(random, width, -1, 1);
            ByteBuffer y = buffer(rows * width);
            ByteBuffer mean = buffer(rows);
            ByteBuffer rstd = buffer(rows);
            kernels.layerNorm(x, gain, bias, y, mean, rstd, rows, width, 1e-5f);
            double[] expected = DoubleReference.layerNorm(doubles(x), doubles(gain), doubles(bias), rows, width, 1e-5);
            assertClose("layerNorm " + width, expected, doubles(y), 1e-6, 2e-6);
            for (int r = 0; r < rows; r++) {
                double mu = 0;
                for (int i = 0; i < width; i++) {
                    mu += get(x, r * width + i) / (double) width;
                }
                assertEquals(mu, get(mean, r), 1e-6);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void causalSoftmaxMatchesTheDoubleReference(Kernels kernels) {
        int heads = 4;
        int groups = 8;
        double[] alibi = {0.25, 0.0625, 0.015625, 0.00390625};
        float[] slopes = {0.25f, 0.0625f, 0.015625f, 0.00390625f};
        for (int length : new int[] {1, 2, 15, 16, 17, 33, 64}) {
            Random random = new Random(length);
            ByteBuffer scores = uniform(random, groups * length * length, -4, 4);
            double[] z = doubles(scores);
            for (boolean withSlopes : new boolean[] {false, true}) {
                ByteBuffer p = copy(scores);
                kernels.causalSoftmax(p, groups, length, heads, 0.125f, withSlopes ? slopes : null);
                double[] expected = DoubleReference.causalSoftmax(z, groups, length, heads, 0.125,
                                                                  withSlopes ? alibi : null);
                // With ALiBi the biased scores reach slope·t ≈ 16, whose rounding (ulp 1.9e-6) moves p relatively
                // by up to 1e-6 on its own.
                assertClose("causalSoftmax " + length, expected, doubles(p), withSlopes ? 2e-6 : 1e-6, 1e-30);
                assertZeroAboveTheDiagonal(p, groups, length);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void crossEntropyMatchesTheDoubleReference(Kernels kernels) {
        for (int vocab : new int[] {1, 7, 17, 65, 129}) {
            Random random = new Random(vocab);
            int rows = 12;
            ByteBuffer logits = uniform(random, rows * vocab, -5, 5);
            int[] targets = random.ints(rows + 1, -1, vocab).toArray();
            double expected = DoubleReference.crossEntropy(doubles(logits), targets, 1, rows, vocab);
            assertRelative(expected, kernels.crossEntropyLoss(logits, targets, 1, rows, vocab), 1e-6);
            assertRelative(expected, kernels.crossEntropy(logits, targets, 1, buffer(rows * vocab), rows, vocab, 1f),
                           1e-6);
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void ropeMatchesTheDoubleReference(Kernels kernels) {
        Random random = new Random(5);
        int rows = 10;
        int length = 5;
        int heads = 3;
        for (int headDim : new int[] {2, 14, 32, 66}) {
            ByteBuffer qkv = uniform(random, rows * 3 * heads * headDim, -1, 1);
            ByteBuffer[] cosSin = angles(length, headDim);
            for (boolean inverse : new boolean[] {false, true}) {
                ByteBuffer rotated = copy(qkv);
                kernels.rope(rotated, rows, length, heads, headDim, cosSin[0], cosSin[1], inverse);
                double[] expected = DoubleReference.rope(doubles(qkv), rows, length, heads, headDim,
                                                         doubles(cosSin[0]), doubles(cosSin[1]), inverse);
                assertClose("rope " + headDim, expected, doubles(rotated), 1e-6, 2e-7);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void embedColumnSumsAndAddMatchTheDoubleReference(Kernels kernels) {
        Random random = new Random(3);
        int rows = 9;
        int length = 4;
        int width = 33;
        int[] tokens = random.ints(rows, 0, 6).toArray();
        ByteBuffer wte = uniform(random, 6 * width, -1, 1);
        ByteBuffer positions = uniform(random, length * width, -1, 1);
        ByteBuffer x = buffer(rows * width);
        kernels.embed(tokens, 0, wte, 2.5f, positions, x, rows, length, width);
        assertClose("embed", DoubleReference.embed(tokens, 0, doubles(wte), 2.5, doubles(positions), rows, length,
                                                   width), doubles(x), 1e-6, 1e-7);
        kernels.embed(tokens, 0, wte, 2.5f, null, x, rows, length, width);
        assertClose("embed without positions", DoubleReference.embed(tokens, 0, doubles(wte), 2.5, null, rows,
                                                                     length, width), doubles(x), 1e-7, 0);

        ByteBuffer sums = uniform(random, width, -1, 1);
        kernels.columnSums(x, sums, rows, width);
        double[] expected = new double[width];
        for (int i = 0; i < rows * width; i++) {
            expected[i % width] += get(x, i);
        }
        assertClose("columnSums", expected, doubles(sums), 1e-6, 1e-5);

        ByteBuffer out = buffer(rows * width);
        kernels.add(x, x, out, rows * width);
        assertClose("add", DoubleReference.embed(tokens, 0, doubles(wte), 5, null, rows, length, width),
                    doubles(out), 1e-7, 0);

        kernels.zero(out, rows * width - 1);
        for (int i = 0; i < rows * width - 1; i++) {
            assertEquals(0f, get(out, i), "zeroed at " + i);
        }
        assertEquals(2 * get(x, rows * width - 1), get(out, rows * width - 1), "past n: left alone");
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void toBf16RoundsToNearestEven(Kernels kernels) {
        int n = 4099;
        ByteBuffer src = specialFloats(new Random(9), n);
        ByteBuffer dst = ByteBuffer.allocateDirect(2 * n).order(ByteOrder.nativeOrder());
        kernels.toBf16(src, dst, n);
        for (int i = 0; i < n; i++) {
            float x = get(src, i);
            short actual = dst.getShort(2 * i);
            if (Float.isNaN(x)) {
                assertTrue(Float.isNaN(Float.intBitsToFloat(actual << 16)), "NaN stays NaN: " + actual);
                assertEquals(Float.floatToRawIntBits(x) < 0, actual < 0, "its sign");
            } else {
                assertEquals(DoubleReference.toBf16(x), actual, "bf16 of " + x + " at " + i);
            }
        }
        // Ties: 1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷ and goes to the even 1; 1 + 3·2⁻⁸ up to 1 + 2⁻⁶.
        ByteBuffer ties = of(1 + 0x1p-8, 1 + 3 * 0x1p-8, Float.MAX_VALUE, -Float.MAX_VALUE);
        ByteBuffer rounded = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
        kernels.toBf16(ties, rounded, 4);
        assertEquals((short) 0x3F80, rounded.getShort(0));
        assertEquals((short) 0x3F82, rounded.getShort(2));
        assertEquals((short) 0x7F80, rounded.getShort(4), "overflows to +∞");
        assertEquals((short) 0xFF80, rounded.getShort(6), "overflows to −∞");
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void addToArrayAddsExactlyAndOnlyItsRange(Kernels kernels) {
        Random random = new Random(13);
        for (int offset : new int[] {0, 3, 16}) {
            for (int n : ODD_SIZES) {
                ByteBuffer src = uniform(random, offset + n + 1, -3, 3);
                float[] into = new float[offset + n + 1];
                float[] expected = new float[offset + n + 1];
                for (int i = 0; i < into.length; i++) {
                    into[i] = (float) random.nextGaussian();
                    expected[i] = i >= offset && i < offset + n ? into[i] + get(src, i) : into[i];
                }
                kernels.addToArray(src, into, offset, n);
                for (int i = 0; i < into.length; i++) {
                    assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(into[i]),
                            "offset " + offset + ", n " + n + " at " + i);
                }
            }
        }
    }

    // ===============================================================================================================
    // Backward kernels against central finite differences of the double forward passes

    @ParameterizedTest
    @MethodSource("implementations")
    void layerNormBackwardIsTheGradient(Kernels kernels) {
        for (int width : new int[] {1, 7, 33}) {
            Random random = new Random(width);
            int rows = 3;
            double eps = 1e-5;
            ByteBuffer x = uniform(random, rows * width, -2, 3);
            ByteBuffer gain = uniform(random, width, 0.5, 1.5);
            ByteBuffer bias = uniform(random, width, -1, 1);
            ByteBuffer dy = uniform(random, rows * width, -1, 1);
            double[] r = doubles(dy);
            double[] xs = doubles(x);
            double[] gains = doubles(gain);
            double[] biases = doubles(bias);

            ByteBuffer mean = buffer(rows);
            ByteBuffer rstd = buffer(rows);
            kernels.layerNorm(x, gain, bias, buffer(rows * width), mean, rstd, rows, width, (float) eps);
            ByteBuffer dx = uniform(random, rows * width, -1, 1);
            double[] dxBefore = doubles(dx);
            ByteBuffer dGain = uniform(random, width, -9, 9);
            ByteBuffer dBias = uniform(random, width, -9, 9);
            kernels.layerNormBackward(dy, x, gain, mean, rstd, dx, dGain, dBias, rows, width);

            double[] gradX = centralDifferences(
                    v -> dot(DoubleReference.layerNorm(v, gains, biases, rows, width, eps), r), xs);
            double[] gradGain = centralDifferences(
                    v -> dot(DoubleReference.layerNorm(xs, v, biases, rows, width, eps), r), gains);
            double[] gradBias = centralDifferences(
                    v -> dot(DoubleReference.layerNorm(xs, gains, v, rows, width, eps), r), biases);
            double[] addedToDx = doubles(dx);
            for (int i = 0; i < addedToDx.length; i++) {
                addedToDx[i] -= dxBefore[i];
            }
            assertClose("dx (added) width " + width, gradX, addedToDx, 1e-5, 1e-5 * maxAbs(gradX));
            assertClose("dGain width " + width, gradGain, doubles(dGain), 1e-5, 1e-6);
            assertClose("dBias width " + width, gradBias, doubles(dBias), 1e-5, 1e-6);
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void geluBackwardIsTheDerivative(Kernels kernels) {
        int n = 301;
        Random random = new Random(4);
        ByteBuffer x = uniform(random, n, -7, 7);
        ByteBuffer dy = uniform(random, n, -1, 1);
        ByteBuffer y = buffer(n);
        ByteBuffer slope = buffer(n);
        ByteBuffer dx = buffer(n);
        kernels.gelu(x, y, slope, n);
        kernels.geluBackward(dy, slope, dx, n);
        double h = 1e-5;
        for (int i = 0; i < n; i++) {
            double v = get(x, i);
            double expected = get(dy, i) * (DoubleReference.gelu(v + h) - DoubleReference.gelu(v - h)) / (2 * h);
            // The kernel's error relative to the derivative's terms, and the differences' own (h² and rounding).
            double tolerance = geluTolerance(v) * Math.abs(get(dy, i)) * geluDerivativeScale(v) + 1e-10;
            assertEquals(expected, get(dx, i), tolerance, "geluBackward at " + v);
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void causalSoftmaxBackwardIsTheGradient(Kernels kernels) {
        int heads = 3;
        int groups = 3;
        double scale = 0.4;
        double[] alibi = {0.5, 0.125, 0.03125};
        float[] slopes = {0.5f, 0.125f, 0.03125f};
        for (int length : new int[] {1, 5, 19}) {
            Random random = new Random(length);
            ByteBuffer scores = uniform(random, groups * length * length, -3, 3);
            ByteBuffer dp = uniform(random, groups * length * length, -1, 1); // above the diagonal too
            double[] z = doubles(scores);
            double[] r = doubles(dp);
            ByteBuffer p = copy(scores);
            kernels.causalSoftmax(p, groups, length, heads, (float) scale, slopes);
            kernels.causalSoftmaxBackward(p, dp, groups, length, (float) scale);
            double[] expected = centralDifferences(
                    v -> dot(DoubleReference.causalSoftmax(v, groups, length, heads, scale, alibi), r), z);
            assertClose("causalSoftmaxBackward " + length, expected, doubles(dp), 1e-5, 1e-7);
            assertZeroAboveTheDiagonal(dp, groups, length);
        }
    }

    @ParameterizedTest
    @MethodSource("implementations")
    void crossEntropyGradientIsTheGradient(Kernels kernels) {
        for (int vocab : new int[] {1, 7, 65}) {
            Random random = new Random(vocab);
            int rows = 6;
            float gradScale = 1f / 7;
            ByteBuffer logits = uniform(random, rows * vocab, -4, 4);
            int[] targets = {5, 0, -1, vocab - 1, -1, vocab / 2, 0, 0};
            ByteBuffer dLogits = uniform(random, rows * vocab, -1, 1); // overwritten, ignored rows too
            kernels.crossEntropy(logits, targets, 2, dLogits, rows, vocab, gradScale);
            double[] expected = centralDifferences(
                    v -> gradScale * DoubleReference.crossEntropy(v, targets, 2, rows, vocab), doubles(logits));
            assertClose("crossEntropy gradient " + vocab, expected, doubles(dLogits), 1e-5, 1e-8);
            for (int row : new int[] {0, 2}) { // targets −1
                for (int i = 0; i < vocab; i++) {
                    assertEquals(0f, get(dLogits, row * vocab + i), "ignored row " + row);
                }
            }
        }
    }

    /** The inverse is the adjoint: ⟨rope(x), y⟩ = ⟨x, rope⁻¹(y)⟩; and rope⁻¹(rope(x)) = x. */
    @ParameterizedTest
    @MethodSource("implementations")
    void ropeInverseIsTheAdjointAndTheInverse(Kernels kernels) {
        Random random = new Random(8);
        int rows = 7;
        int length = 3;
        int heads = 2;
        for (int headDim : new int[] {2, 10, 34, 64}) {
            ByteBuffer x = uniform(random, rows * 3 * heads * headDim, -1, 1);
            ByteBuffer y = uniform(random, rows * 3 * heads * headDim, -1, 1);
            ByteBuffer[] cosSin = angles(length, headDim);
            ByteBuffer rotatedX = copy(x);
            kernels.rope(rotatedX, rows, length, heads, headDim, cosSin[0], cosSin[1], false);
            ByteBuffer backY = copy(y);
            kernels.rope(backY, rows, length, heads, headDim, cosSin[0], cosSin[1], true);
            double left = dot(doubles(rotatedX), doubles(y));
            double right = dot(doubles(x), doubles(backY));
            assertEquals(left, right, 1e-6 * Math.sqrt(x.capacity() / 4.0), "adjoint, headDim " + headDim);

            ByteBuffer roundTrip = copy(rotatedX);
            kernels.rope(roundTrip, rows, length, heads, headDim, cosSin[0], cosSin[1], true);
            assertClose("rope⁻¹∘rope " + headDim, doubles(x), doubles(roundTrip), 0, 3e-7);
            assertTrue(maxAbsDifference(doubles(x), doubles(rotatedX)) > 0.01, "rope moved something");
        }
    }

    /**
     * embedBackward is embed's adjoint: ⟨embed(w, P), D⟩ = ⟨w, dW⟩ + ⟨P, dP⟩ for (dW, dP) = embedBackward(D), dW
     * counting only what was added and dP overwriting what was there.
     */
    @ParameterizedTest
    @MethodSource("implementations")
    void embedBackwardIsTheAdjointOfEmbed(Kernels kernels) {
        Random random = new Random(6);
        int rows = 11;
        int length = 4;
        int vocab = 5;
        for (int width : new int[] {1, 17, 40}) {
            int[] tokens = random.ints(rows + 1, 0, vocab).toArray(); // repeats: dW sums over them
            ByteBuffer wte = uniform(random, vocab * width, -1, 1);
            ByteBuffer positions = uniform(random, length * width, -1, 1);
            ByteBuffer dx = uniform(random, rows * width, -1, 1);
            float tokenScale = 3f;
            ByteBuffer x = buffer(rows * width);
            kernels.embed(tokens, 1, wte, tokenScale, positions, x, rows, length, width);

            ByteBuffer dWte = uniform(random, vocab * width, -1, 1);
            double[] dWteBefore = doubles(dWte);
            ByteBuffer dPositions = uniform(random, length * width, -9, 9);
            kernels.embedBackward(tokens, 1, dx, tokenScale, dWte, dPositions, rows, length, width);
            double[] added = doubles(dWte);
            for (int i = 0; i < added.length; i++) {
                added[i] -= dWteBefore[i];
            }
            double left = dot(doubles(x), doubles(dx));
            double right = dot(doubles(wte), added) + dot(doubles(positions), doubles(dPositions));
            assertEquals(left, right, 1e-5 * rows * width, "adjoint, width " + width);

            ByteBuffer dWteAlone = buffer(vocab * width);
            kernels.embedBackward(tokens, 1, dx, tokenScale, dWteAlone, null, rows, length, width);
            assertClose("dWte without positions", added, doubles(dWteAlone), 1e-6, 1e-6);
        }
    }

    // ===============================================================================================================
    // No allocation once compiled

    /**
     * Every vector kernel, once C2 has compiled it, allocates nothing: the vectors are never boxed. (Scalar kernels
     * never allocate; checked too.)
     *
     * <p>In a JVM of its own per implementation, as a worker runs them: in this test JVM the kernels have already
     * run on dozens of odd shapes, and what C2 inlines into a loop depends on what it compiled first (a callee
     * already compiled into a large method is not inlined, and a vector crossing that call is boxed), so the same
     * probe here passed or failed by the order in which the tests ran. In a JVM of its own it still depended on
     * timing: with background compilation, whether C2 compiled a helper on its own before the loop that calls it
     * depended on the load of the machine (under load, "gelu with slope" boxed 5760 bytes per call). So the probe
     * runs with {@code -Xbatch}: each compilation finishes before the call that asked for it continues, which
     * makes what C2 compiles, and in what order, a function of the calls alone. It warms each kernel up well past
     * C2's thresholds, then measures it.
     */
    @Test
    void kernelsDoNotAllocateOnceCompiled() throws IOException, InterruptedException {
        for (String implementation : List.of("vector", "scalar")) {
            Process probe = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xbatch", "--add-modules", "jdk.incubator.vector", "-cp",
                    System.getProperty("java.class.path"), AllocationProbe.class.getName(), implementation).redirectErrorStream(true).start();
            String output = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(probe.waitFor(120, TimeUnit.SECONDS), output);
            assertEquals(0, probe.exitValue(), output);
            List<String> measured = output.lines().filter(line -> line.contains(" bytes in ")).toList();
            assertEquals(calls(SCALAR).size(), measured.size(), output);
            assertEquals(List.of(), measured.stream().filter(line -> !line.contains(": 0 bytes in ")).toList(),
                         output);
        }
    }

    /**
     * The probe of {@link #kernelsDoNotAllocateOnceCompiled}: for {@code vector} or {@code scalar} kernels, prints
     * one line per kernel with the fewest bytes allocated in any window of 100 calls.
     */
    public static final class AllocationProbe {
        /** Calls of a kernel before it is measured: tiered C2 compiles a method after 10⁴–1.5·10⁴ calls. */
        private static final int WARM_UP_CALLS = 30_000;
        private static final int CALLS_PER_WINDOW = 100;
        /** How long a kernel may take to show a clean window (a window may still see a recompilation). */
        private static final long WINDOWS_NS = TimeUnit.SECONDS.toNanos(10);

        public static void main(String[] args) {
            Kernels kernels = args[0].equals("scalar") ? SCALAR : new VectorKernels();
            com.sun.management.ThreadMXBean threads =
                    (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            for (Map.Entry<String, Runnable> call : calls(kernels).entrySet()) {
                for (int i = 0; i < WARM_UP_CALLS; i++) {
                    call.getValue().run();
                }
                long fewest = Long.MAX_VALUE;
                long deadline = System.nanoTime() + WINDOWS_NS;
                while (fewest > 0 && System.nanoTime() < deadline) {
                    long before = threads.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < CALLS_PER_WINDOW; i++) {
                        call.getValue().run();
                    }
                    fewest = Math.min(fewest, threads.getCurrentThreadAllocatedBytes() - before);
                }
                System.out.println(kernels.name() + " " + call.getKey() + ": " + fewest + " bytes in "
                                   + CALLS_PER_WINDOW + " calls");
            }
        }
    }

    /** One call of each kernel on small odd shapes. */
    private static Map<String, Runnable> calls(Kernels k) {
        Random random = new Random(2);
        int rows = 9;
        int width = 37;
        int length = 9;
        int groups = 2;
        ByteBuffer x = uniform(random, rows * width, -1, 1);
        ByteBuffer y = buffer(rows * width);
        ByteBuffer gain = uniform(random, width, -1, 1);
        ByteBuffer bias = uniform(random, width, -1, 1);
        ByteBuffer mean = buffer(rows);
        ByteBuffer rstd = buffer(rows);
        ByteBuffer dGain = buffer(width);
        ByteBuffer dBias = buffer(width);
        ByteBuffer scores = uniform(random, groups * length * length, -1, 1);
        ByteBuffer dScores = uniform(random, groups * length * length, -1, 1);
        float[] slopes = {0.5f, 0.25f};
        int[] targets = {1, -1, 3, 4, 0, 2, 8, 30, 36, 5};
        int[] tokens = {1, 2, 3, 4, 0, 2, 8, 7, 6, 5};
        ByteBuffer[] cosSin = angles(length, 6);
        ByteBuffer half = ByteBuffer.allocateDirect(2 * rows * width).order(ByteOrder.nativeOrder());
        ByteBuffer slope = buffer(rows * width);
        k.layerNorm(x, gain, bias, y, mean, rstd, rows, width, 1e-5f);
        Map<String, Runnable> calls = new LinkedHashMap<>();
        calls.put("layerNorm", () -> k.layerNorm(x, gain, bias, y, mean, rstd, rows, width, 1e-5f));
        calls.put("layerNormBackward", () -> k.layerNormBackward(x, x, gain, mean, rstd, y, dGain, dBias, rows,
                                                                 width));
        calls.put("gelu", () -> k.gelu(x, y, null, rows * width));
        calls.put("gelu with slope", () -> k.gelu(x, y, slope, rows * width));
        calls.put("geluBackward", () -> k.geluBackward(x, x, y, rows * width));
        calls.put("causalSoftmax", () -> k.causalSoftmax(scores, groups, length, 2, 0.3f, slopes));
        calls.put("causalSoftmaxBackward", () -> k.causalSoftmaxBackward(scores, dScores, groups, length, 0.3f));
        calls.put("crossEntropy", () -> k.crossEntropy(x, targets, 1, y, rows, width, 0.1f));
        calls.put("crossEntropyLoss", () -> k.crossEntropyLoss(x, targets, 1, rows, width));
        calls.put("columnSums", () -> k.columnSums(x, gain, rows, width));
        calls.put("add", () -> k.add(x, y, y, rows * width));
        calls.put("zero", () -> k.zero(y, rows * width));
        calls.put("rope", () -> k.rope(y, 6, length, 3, 6, cosSin[0], cosSin[1], false));
        calls.put("embed", () -> k.embed(tokens, 2, x, 0.5f, x, y, 8, 3, width));
        calls.put("embedBackward", () -> k.embedBackward(tokens, 2, x, 0.5f, y, gain, 8, 1, width));
        calls.put("toBf16", () -> k.toBf16(x, half, rows * width));
        float[] array = new float[rows * width];
        calls.put("addToArray", () -> k.addToArray(x, array, 0, rows * width));
        return calls;
    }

    // ===============================================================================================================
    // Helpers

    static ByteBuffer buffer(int floats) {
        return ByteBuffer.allocateDirect(Float.BYTES * floats).order(ByteOrder.nativeOrder());
    }

    static ByteBuffer uniform(Random random, int n, double low, double high) {
        ByteBuffer buffer = buffer(n);
        for (int i = 0; i < n; i++) {
            put(buffer, i, (float) (low + (high - low) * random.nextDouble()));
        }
        return buffer;
    }

    static ByteBuffer of(double... values) {
        ByteBuffer buffer = buffer(values.length);
        for (int i = 0; i < values.length; i++) {
            put(buffer, i, (float) values[i]);
        }
        return buffer;
    }

    static ByteBuffer copy(ByteBuffer source) {
        ByteBuffer copy = buffer(source.capacity() / Float.BYTES);
        copy.put(source.duplicate().clear()).clear();
        return copy;
    }

    static float get(ByteBuffer buffer, int index) {
        return buffer.getFloat(Float.BYTES * index);
    }

    static void put(ByteBuffer buffer, int index, float value) {
        buffer.putFloat(Float.BYTES * index, value);
    }

    static double[] doubles(ByteBuffer buffer) {
        double[] values = new double[buffer.capacity() / Float.BYTES];
        for (int i = 0; i < values.length; i++) {
            values[i] = get(buffer, i);
        }
        return values;
    }

    /** Mostly ordinary floats of many magnitudes, with ties, NaNs, infinities, zeros, subnormals and extremes. */
    private static ByteBuffer specialFloats(Random random, int n) {
        float[] specials = {Float.NaN, Float.intBitsToFloat(0x7F800001), Float.intBitsToFloat(0xFFC00000),
                Float.intBitsToFloat(0x7FFF0000), Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f,
                Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_NORMAL, 1f, -1f,
                Float.intBitsToFloat(0x3F808000), Float.intBitsToFloat(0x3F818000), Float.intBitsToFloat(0x7F7F8000)};
        ByteBuffer buffer = buffer(n);
        for (int i = 0; i < n; i++) {
            float value;
            int kind = random.nextInt(8);
            if (kind == 0) {
                value = specials[random.nextInt(specials.length)];
            } else if (kind == 1) { // exact ties: low 16 bits 0x8000
                value = Float.intBitsToFloat((random.nextInt() & 0xFFFF0000) | 0x8000);
            } else {
                value = Float.intBitsToFloat(random.nextInt());
            }
            put(buffer, i, value);
        }
        return buffer;
    }

    /** cos(p·θᵢ), sin(p·θᵢ) with θᵢ = 10000^(−2i/headDim), [length, headDim/2]. */
    static ByteBuffer[] angles(int length, int headDim) {
        int half = headDim / 2;
        ByteBuffer cos = buffer(length * half);
        ByteBuffer sin = buffer(length * half);
        for (int p = 0; p < length; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * Math.pow(10000, -2.0 * i / headDim) + 0.3 * i; // + 0.3·i: more varied angles
                put(cos, p * half + i, (float) Math.cos(angle));
                put(sin, p * half + i, (float) Math.sin(angle));
            }
        }
        return new ByteBuffer[] {cos, sin};
    }

    private static void assertZeroAboveTheDiagonal(ByteBuffer matrices, int groups, int length) {
        for (int g = 0; g < groups; g++) {
            for (int t = 0; t < length; t++) {
                for (int s = t + 1; s < length; s++) {
                    assertEquals(0f, get(matrices, (g * length + t) * length + s), "above the diagonal");
                }
            }
        }
    }

    /** Central differences, step 1e-5, of f at x (x is perturbed in place and restored). */
    private static double[] centralDifferences(ToDoubleFunction<double[]> f, double[] x) {
        double h = 1e-5;
        double[] gradient = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double saved = x[i];
            x[i] = saved + h;
            double up = f.applyAsDouble(x);
            x[i] = saved - h;
            double down = f.applyAsDouble(x);
            x[i] = saved;
            gradient[i] = (up - down) / (2 * h);
        }
        return gradient;
    }

    private static double dot(double[] a, double[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += a[i] * b[i];
        }
        return sum;
    }

    private static double maxAbs(double[] values) {
        double max = 0;
        for (double value : values) {
            max = Math.max(max, Math.abs(value));
        }
        return max;
    }

    private static double maxAbsDifference(double[] a, double[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    private static void assertRelative(double expected, double actual, double relative) {
        assertEquals(expected, actual, relative * Math.abs(expected));
    }

    /** Asserts |actual − expected| ≤ absolute + relative·|expected| everywhere (NaN equal to NaN), naming the worst. */
    private static void assertClose(String what, double[] expected, double[] actual, double relative,
                                    double absolute) {
        assertEquals(expected.length, actual.length, what + ": length");
        List<String> failures = new ArrayList<>();
        double worst = 0;
        int worstIndex = -1;
        for (int i = 0; i < expected.length; i++) {
            if (Double.isNaN(expected[i]) && Double.isNaN(actual[i])) {
                continue;
            }
            double excess = Math.abs(actual[i] - expected[i]) - (absolute + relative * Math.abs(expected[i]));
            if (!(excess <= 0)) {
                failures.add(String.valueOf(i));
                if (worstIndex < 0 || excess > worst || Double.isNaN(excess)) {
                    worst = excess;
                    worstIndex = i;
                }
            }
        }
        if (!failures.isEmpty()) {
            fail(String.format("%s: %d of %d elements off, worst at %d: expected %s, got %s (tolerance %s + %s·|e|)",
                               what, failures.size(), expected.length, worstIndex, expected[worstIndex],
                               actual[worstIndex], absolute, relative));
        }
    }

    private static void assertAgree(String what, Map<String, ByteBuffer> scalar, Map<String, ByteBuffer> vector,
                                    double relative, double absolute) {
        for (String output : scalar.keySet()) {
            assertClose(what + " " + output, doubles(scalar.get(output)), doubles(vector.get(output)), relative,
                        absolute);
        }
    }
}
