package io.ringformer.zoo.fused;

import static io.ringformer.zoo.fused.RowKernels.get;
import static io.ringformer.zoo.fused.RowKernels.put;
import static jdk.incubator.vector.FloatVector.broadcast;
import static jdk.incubator.vector.FloatVector.fromByteBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API code of {@link VectorKernels}, which only delegates here: a class that mentions Vector API types
 * fails to link (NoClassDefFoundError from the verifier) when {@code jdk.incubator.vector} is not loaded, so
 * VectorKernels must not, or {@link VectorKernels#isAvailable()} could not even be called.
 *
 * <p>Each loop runs whole vectors of {@link #LANES} floats, then the rest with scalar code ({@link FastMath}'s
 * formulas; masked operations are slow on JDK 17). Buffers are addressed in bytes, 4 per float.
 *
 * <p>Nothing here may allocate once compiled, which on JDK 17 takes care: a vector that crosses a call C2 did not
 * inline is boxed, and C2 stops inlining ordinary methods once a compilation has parsed 18000 IR nodes
 * (NodeCountInliningCutoff), which a few dozen Vector API operations reach, each costing hundreds while parsed. The
 * Vector API's own methods are force-inlined past that budget, ours are not. So the loops call the Vector API
 * directly for loads, stores and broadcasts (no helpers of ours for those), broadcast run-time scalars once before the
 * loop, keep constants in fields, and the only helpers of ours that take vectors are the math ({@link #exp},
 * {@link #erfcx}, {@link #gaussian}, {@link #normalCdf}), parsed early in their loops. Row operations are split into
 * methods that take and return scalars, whose inlining, or not, costs nothing. {@code KernelsTest} checks that no
 * kernel allocates.
 */
final class VectorLoops {

    private VectorLoops() {}

    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    static final int LANES = SPECIES.length();
    private static final VectorSpecies<Integer> INTS = SPECIES.withLanes(int.class);
    /** Half as wide as {@link #SPECIES}: as many 16-bit lanes as it has floats. */
    private static final VectorSpecies<Short> HALVES =
            VectorSpecies.of(short.class, VectorShape.forBitSize(SPECIES.vectorBitSize() / 2));
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    static int bits() {
        return SPECIES.vectorBitSize();
    }

    /** The end of the whole vectors in a run of n floats. */
    private static int vectorEnd(int n) {
        return SPECIES.loopBound(n);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The math, lane-wise

    // Constants as vectors, made once: broadcasting them at each use (or the operations that take a scalar and
    // broadcast it) costs many IR nodes. But a loop-carried vector (a sum) must start from a fresh vector such as
    // FloatVector.zero(SPECIES), never from one of these fields: C2 cannot unbox a phi that merges a constant object
    // with computed vectors, and boxes every iteration's vector instead.

    private static final FloatVector ZERO = FloatVector.zero(SPECIES);
    private static final FloatVector ONE = broadcast(SPECIES, 1f);
    private static final FloatVector HALF = broadcast(SPECIES, 0.5f);
    private static final FloatVector MINUS_HALF = broadcast(SPECIES, -0.5f);
    private static final FloatVector LOG2E = broadcast(SPECIES, FastMath.LOG2E);
    private static final FloatVector ROUNDING_MAGIC = broadcast(SPECIES, FastMath.ROUNDING_MAGIC);
    private static final FloatVector MINUS_LN2_HI = broadcast(SPECIES, -FastMath.LN2_HI);
    private static final FloatVector MINUS_LN2_LO = broadcast(SPECIES, -FastMath.LN2_LO);
    private static final FloatVector EXP_MIN = broadcast(SPECIES, FastMath.EXP_MIN);
    private static final FloatVector EXP_MAX = broadcast(SPECIES, FastMath.EXP_MAX);
    private static final FloatVector EXP_P0 = broadcast(SPECIES, FastMath.EXP_P0);
    private static final FloatVector EXP_P1 = broadcast(SPECIES, FastMath.EXP_P1);
    private static final FloatVector EXP_P2 = broadcast(SPECIES, FastMath.EXP_P2);
    private static final FloatVector EXP_P3 = broadcast(SPECIES, FastMath.EXP_P3);
    private static final FloatVector EXP_P4 = broadcast(SPECIES, FastMath.EXP_P4);
    private static final FloatVector EXP_P5 = broadcast(SPECIES, FastMath.EXP_P5);
    private static final IntVector EXPONENT_BIAS = IntVector.broadcast(INTS, 127);
    private static final IntVector MANTISSA_BITS = IntVector.broadcast(INTS, 23);
    private static final FloatVector ERFCX_P = broadcast(SPECIES, FastMath.ERFCX_P);
    private static final FloatVector ERFCX_Z_MAX = broadcast(SPECIES, FastMath.ERFCX_Z_MAX);
    private static final FloatVector ERFCX_Q1 = broadcast(SPECIES, FastMath.ERFCX_Q1);
    private static final FloatVector ERFCX_Q2 = broadcast(SPECIES, FastMath.ERFCX_Q2);
    private static final FloatVector ERFCX_Q3 = broadcast(SPECIES, FastMath.ERFCX_Q3);
    private static final FloatVector ERFCX_Q4 = broadcast(SPECIES, FastMath.ERFCX_Q4);
    private static final FloatVector ERFCX_Q5 = broadcast(SPECIES, FastMath.ERFCX_Q5);
    private static final FloatVector ERFCX_Q6 = broadcast(SPECIES, FastMath.ERFCX_Q6);
    private static final FloatVector ERFCX_Q7 = broadcast(SPECIES, FastMath.ERFCX_Q7);
    private static final FloatVector ERFCX_Q8 = broadcast(SPECIES, FastMath.ERFCX_Q8);
    private static final FloatVector SQRT_HALF = broadcast(SPECIES, FastMath.SQRT_HALF);
    private static final FloatVector INV_SQRT_2PI = broadcast(SPECIES, FastMath.INV_SQRT_2PI);

    /** {@link FastMath#exp} lane-wise; 2ⁿ built from bits by shifting, cheap (a float→int convert is not). */
    static FloatVector exp(FloatVector x) {
        FloatVector clamped = x.max(EXP_MIN).min(EXP_MAX);
        FloatVector shifted = clamped.fma(LOG2E, ROUNDING_MAGIC); // round(x·log₂e) + magic
        FloatVector n = shifted.sub(ROUNDING_MAGIC);
        FloatVector r = n.fma(MINUS_LN2_HI, clamped);
        r = n.fma(MINUS_LN2_LO, r);
        FloatVector p = r.fma(EXP_P5, EXP_P4);
        p = p.fma(r, EXP_P3);
        p = p.fma(r, EXP_P2);
        p = p.fma(r, EXP_P1);
        p = p.fma(r, EXP_P0);
        FloatVector er = p.fma(r.mul(r), r).add(ONE);
        FloatVector twoToN = shifted.reinterpretAsInts().add(EXPONENT_BIAS)
                .lanewise(VectorOperators.LSHL, MANTISSA_BITS).reinterpretAsFloats();
        return er.mul(twoToN).blend(ZERO, x.compare(VectorOperators.LT, EXP_MIN));
    }

    /** {@link FastMath#erfcx} lane-wise, z ≥ 0. */
    static FloatVector erfcx(FloatVector z) {
        FloatVector pz = z.min(ERFCX_Z_MAX).mul(ERFCX_P);
        FloatVector t = ONE.div(pz.add(ONE));
        FloatVector s = pz.mul(t);
        FloatVector q = s.fma(ERFCX_Q8, ERFCX_Q7);
        q = q.fma(s, ERFCX_Q6);
        q = q.fma(s, ERFCX_Q5);
        q = q.fma(s, ERFCX_Q4);
        q = q.fma(s, ERFCX_Q3);
        q = q.fma(s, ERFCX_Q2);
        q = q.fma(s, ERFCX_Q1);
        q = q.fma(s, ONE);
        return t.mul(q);
    }

    /** {@link FastMath#gaussian} lane-wise: e^(−x²/2). */
    private static FloatVector gaussian(FloatVector x) {
        return exp(x.mul(x).mul(MINUS_HALF));
    }

    /** {@link FastMath#normalCdf} lane-wise. */
    private static FloatVector normalCdf(FloatVector x, FloatVector gaussian) {
        FloatVector lowerTail = erfcx(x.abs().mul(SQRT_HALF)).mul(gaussian).mul(HALF);
        return ONE.sub(lowerTail).blend(lowerTail, x.compare(VectorOperators.LT, ZERO));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Element-wise kernels

    static void gelu(ByteBuffer x, ByteBuffer y, ByteBuffer slope, int n) {
        // Two loops in two methods: one with both stores in it grows past what C2 inlines, and boxes its vectors.
        int i = slope == null ? geluVectors(x, y, n) : geluAndSlopeVectors(x, y, slope, n);
        for (; i < n; i++) {
            float v = get(x, i);
            float gaussian = FastMath.gaussian(v);
            float cdf = FastMath.normalCdf(v, gaussian);
            put(y, i, v * cdf);
            if (slope != null) {
                put(slope, i, FastMath.geluDerivative(v, gaussian, cdf));
            }
        }
    }

    /** The whole vectors of {@link #gelu} without the slope; returns where the tail starts. */
    private static int geluVectors(ByteBuffer x, ByteBuffer y, int n) {
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            FloatVector v = fromByteBuffer(SPECIES, x, 4 * i, NATIVE);
            FloatVector cdf = normalCdf(v, gaussian(v));
            v.mul(cdf).intoByteBuffer(y, 4 * i, NATIVE);
        }
        return i;
    }

    /**
     * The whole vectors of {@link #gelu} with the slope Φ + x·φ; returns where the tail starts. Four loops with one
     * store each — φ into slope, Φ into y, then the slope, then x·Φ — the same arithmetic per element as one loop.
     * One loop with both stores was compiled by C2 in some worker JVMs (not in others) with its stores going
     * through the Vector API's non-intrinsic path, several times slower; small loops inline reliably.
     */
    private static int geluAndSlopeVectors(ByteBuffer x, ByteBuffer y, ByteBuffer slope, int n) {
        int end = vectorEnd(n);
        for (int i = 0; i < end; i += LANES) {
            gaussian(fromByteBuffer(SPECIES, x, 4 * i, NATIVE)).intoByteBuffer(slope, 4 * i, NATIVE);      // φ
        }
        for (int i = 0; i < end; i += LANES) {
            normalCdf(fromByteBuffer(SPECIES, x, 4 * i, NATIVE), fromByteBuffer(SPECIES, slope, 4 * i, NATIVE))
                    .intoByteBuffer(y, 4 * i, NATIVE);                                                    // Φ
        }
        for (int i = 0; i < end; i += LANES) {
            FloatVector gaussian = fromByteBuffer(SPECIES, slope, 4 * i, NATIVE);
            fromByteBuffer(SPECIES, x, 4 * i, NATIVE).fma(gaussian.mul(INV_SQRT_2PI),
                    fromByteBuffer(SPECIES, y, 4 * i, NATIVE)).intoByteBuffer(slope, 4 * i, NATIVE);      // Φ + x·φ
        }
        for (int i = 0; i < end; i += LANES) {
            fromByteBuffer(SPECIES, x, 4 * i, NATIVE).mul(fromByteBuffer(SPECIES, y, 4 * i, NATIVE))
                    .intoByteBuffer(y, 4 * i, NATIVE);                                                    // x·Φ
        }
        return end;
    }

    static void geluBackward(ByteBuffer dy, ByteBuffer slope, ByteBuffer dx, int n) {
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            fromByteBuffer(SPECIES, dy, 4 * i, NATIVE).mul(fromByteBuffer(SPECIES, slope, 4 * i, NATIVE))
                    .intoByteBuffer(dx, 4 * i, NATIVE);
        }
        for (; i < n; i++) {
            put(dx, i, get(dy, i) * get(slope, i));
        }
    }

    private static final IntVector INT_ONE = IntVector.broadcast(INTS, 1);
    private static final IntVector SIXTEEN = IntVector.broadcast(INTS, 16);
    private static final IntVector HALF_BF16_ULP = IntVector.broadcast(INTS, 0x7FFF);
    private static final IntVector NO_SIGN = IntVector.broadcast(INTS, 0x7FFFFFFF);
    private static final IntVector INFINITY_BITS = IntVector.broadcast(INTS, 0x7F800000);
    private static final IntVector QUIET_NAN_BIT = IntVector.broadcast(INTS, 0x40);

    /** {@link FastMath#toBf16} lane-wise on the float bits, then narrowed to 16-bit lanes. */
    static void toBf16(ByteBuffer src, ByteBuffer dst, int n) {
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            IntVector bits = fromByteBuffer(SPECIES, src, 4 * i, NATIVE).reinterpretAsInts();
            IntVector upper = bits.lanewise(VectorOperators.LSHR, SIXTEEN);
            IntVector rounded = bits.add(upper.and(INT_ONE)).add(HALF_BF16_ULP)
                    .lanewise(VectorOperators.LSHR, SIXTEEN);
            VectorMask<Integer> nan = bits.and(NO_SIGN).compare(VectorOperators.GT, INFINITY_BITS);
            IntVector bf16 = rounded.blend(upper.or(QUIET_NAN_BIT), nan);
            ShortVector narrowed = (ShortVector) bf16.convertShape(VectorOperators.I2S, HALVES, 0);
            narrowed.intoByteBuffer(dst, 2 * i, NATIVE);
        }
        for (; i < n; i++) {
            dst.putShort(2 * i, FastMath.toBf16(get(src, i)));
        }
    }

    /** into[i] += src[i] for offset ≤ i < offset + n. */
    static void addToArray(ByteBuffer src, float[] into, int offset, int n) {
        int i = offset;
        for (int end = offset + vectorEnd(n); i < end; i += LANES) {
            fromByteBuffer(SPECIES, src, 4 * i, NATIVE).add(FloatVector.fromArray(SPECIES, into, i))
                    .intoArray(into, i);
        }
        for (; i < offset + n; i++) {
            into[i] += get(src, i);
        }
    }

    static void zero(ByteBuffer buffer, int offset, int n) {
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            ZERO.intoByteBuffer(buffer, 4 * (offset + i), NATIVE);
        }
        for (; i < n; i++) {
            put(buffer, offset + i, 0f);
        }
    }

    static void axpy(float alpha, ByteBuffer x, int xOffset, ByteBuffer y, int yOffset, int n) {
        FloatVector alphas = broadcast(SPECIES, alpha);
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            FloatVector xs = fromByteBuffer(SPECIES, x, 4 * (xOffset + i), NATIVE);
            FloatVector ys = fromByteBuffer(SPECIES, y, 4 * (yOffset + i), NATIVE);
            xs.fma(alphas, ys).intoByteBuffer(y, 4 * (yOffset + i), NATIVE);
        }
        for (; i < n; i++) {
            put(y, yOffset + i, get(y, yOffset + i) + alpha * get(x, xOffset + i));
        }
    }

    static void scaleAdd(float alpha, ByteBuffer a, int aOffset, ByteBuffer b, int bOffset, ByteBuffer out,
                         int outOffset, int n) {
        FloatVector alphas = broadcast(SPECIES, alpha);
        int i = 0;
        int end = vectorEnd(n);
        if (b == null) {
            for (; i < end; i += LANES) {
                FloatVector as = fromByteBuffer(SPECIES, a, 4 * (aOffset + i), NATIVE);
                as.mul(alphas).intoByteBuffer(out, 4 * (outOffset + i), NATIVE);
            }
        } else {
            for (; i < end; i += LANES) {
                FloatVector as = fromByteBuffer(SPECIES, a, 4 * (aOffset + i), NATIVE);
                FloatVector bs = fromByteBuffer(SPECIES, b, 4 * (bOffset + i), NATIVE);
                as.fma(alphas, bs).intoByteBuffer(out, 4 * (outOffset + i), NATIVE);
            }
        }
        for (; i < n; i++) {
            float value = alpha * get(a, aOffset + i);
            put(out, outOffset + i, b == null ? value : value + get(b, bOffset + i));
        }
    }

    static void rotate(ByteBuffer buffer, int aOffset, int bOffset, ByteBuffer cos, ByteBuffer sin, int angleOffset,
                       int n, boolean inverse) {
        float sign = inverse ? -1f : 1f;
        FloatVector signs = broadcast(SPECIES, sign);
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            FloatVector a = fromByteBuffer(SPECIES, buffer, 4 * (aOffset + i), NATIVE);
            FloatVector b = fromByteBuffer(SPECIES, buffer, 4 * (bOffset + i), NATIVE);
            FloatVector c = fromByteBuffer(SPECIES, cos, 4 * (angleOffset + i), NATIVE);
            FloatVector s = fromByteBuffer(SPECIES, sin, 4 * (angleOffset + i), NATIVE).mul(signs);
            a.mul(c).sub(b.mul(s)).intoByteBuffer(buffer, 4 * (aOffset + i), NATIVE);
            b.mul(c).add(a.mul(s)).intoByteBuffer(buffer, 4 * (bOffset + i), NATIVE);
        }
        for (; i < n; i++) {
            float a = get(buffer, aOffset + i);
            float b = get(buffer, bOffset + i);
            float c = get(cos, angleOffset + i);
            float s = sign * get(sin, angleOffset + i);
            put(buffer, aOffset + i, a * c - b * s);
            put(buffer, bOffset + i, b * c + a * s);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // LayerNorm

    static void layerNorm(ByteBuffer x, ByteBuffer gain, ByteBuffer bias, ByteBuffer y, ByteBuffer mean,
                          ByteBuffer rstd, int rows, int width, float eps) {
        for (int row = 0; row < rows; row++) {
            int offset = row * width;
            float mu = sum(x, offset, width) / width;
            float rs = (float) (1.0 / Math.sqrt(centredSquares(x, offset, width, mu) / width + eps));
            put(mean, row, mu);
            put(rstd, row, rs);
            normalise(x, offset, width, mu, rs, gain, bias, y);
        }
    }

    /** Σ x[offset + i] for i < n. */
    private static float sum(ByteBuffer x, int offset, int n) {
        FloatVector sums = FloatVector.zero(SPECIES);
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            sums = sums.add(fromByteBuffer(SPECIES, x, 4 * (offset + i), NATIVE));
        }
        float sum = sums.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += get(x, offset + i);
        }
        return sum;
    }

    /** Σ (x[offset + i] − mu)² for i < n. */
    private static float centredSquares(ByteBuffer x, int offset, int n, float mu) {
        FloatVector means = broadcast(SPECIES, mu);
        FloatVector sums = FloatVector.zero(SPECIES);
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            FloatVector centred = fromByteBuffer(SPECIES, x, 4 * (offset + i), NATIVE).sub(means);
            sums = centred.fma(centred, sums);
        }
        float sum = sums.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float centred = get(x, offset + i) - mu;
            sum += centred * centred;
        }
        return sum;
    }

    /** y[offset + i] = (x[offset + i] − mu)·rs·gain[i] + bias[i] for i < width. */
    private static void normalise(ByteBuffer x, int offset, int width, float mu, float rs, ByteBuffer gain,
                                  ByteBuffer bias, ByteBuffer y) {
        FloatVector means = broadcast(SPECIES, mu);
        FloatVector scales = broadcast(SPECIES, rs);
        int i = 0;
        for (int end = vectorEnd(width); i < end; i += LANES) {
            FloatVector normalised = fromByteBuffer(SPECIES, x, 4 * (offset + i), NATIVE).sub(means).mul(scales);
            FloatVector gains = fromByteBuffer(SPECIES, gain, 4 * i, NATIVE);
            FloatVector biases = fromByteBuffer(SPECIES, bias, 4 * i, NATIVE);
            normalised.fma(gains, biases).intoByteBuffer(y, 4 * (offset + i), NATIVE);
        }
        for (; i < width; i++) {
            float normalised = (get(x, offset + i) - mu) * rs;
            put(y, offset + i, normalised * get(gain, i) + get(bias, i));
        }
    }

    static void layerNormBackward(ByteBuffer dy, ByteBuffer x, ByteBuffer gain, ByteBuffer mean, ByteBuffer rstd,
                                  ByteBuffer dx, ByteBuffer dGain, ByteBuffer dBias, int rows, int width) {
        zero(dGain, 0, width);
        zero(dBias, 0, width);
        int end = vectorEnd(width);
        for (int row = 0; row < rows; row++) {
            int offset = row * width;
            float mu = get(mean, row);
            float rs = get(rstd, row);
            FloatVector means = broadcast(SPECIES, mu);
            FloatVector scales = broadcast(SPECIES, rs);
            FloatVector sumsG = FloatVector.zero(SPECIES);
            FloatVector sumsGx = FloatVector.zero(SPECIES);
            int i = 0;
            for (; i < end; i += LANES) {
                FloatVector normalised = fromByteBuffer(SPECIES, x, 4 * (offset + i), NATIVE).sub(means).mul(scales);
                FloatVector d = fromByteBuffer(SPECIES, dy, 4 * (offset + i), NATIVE);
                FloatVector g = d.mul(fromByteBuffer(SPECIES, gain, 4 * i, NATIVE));
                sumsG = sumsG.add(g);
                sumsGx = g.fma(normalised, sumsGx);
                FloatVector gains = fromByteBuffer(SPECIES, dGain, 4 * i, NATIVE);
                FloatVector biases = fromByteBuffer(SPECIES, dBias, 4 * i, NATIVE);
                d.fma(normalised, gains).intoByteBuffer(dGain, 4 * i, NATIVE);
                d.add(biases).intoByteBuffer(dBias, 4 * i, NATIVE);
            }
            float sumG = sumsG.reduceLanes(VectorOperators.ADD);
            float sumGx = sumsGx.reduceLanes(VectorOperators.ADD);
            for (; i < width; i++) {
                float normalised = (get(x, offset + i) - mu) * rs;
                float d = get(dy, offset + i);
                float g = d * get(gain, i);
                sumG += g;
                sumGx += g * normalised;
                put(dGain, i, get(dGain, i) + d * normalised);
                put(dBias, i, get(dBias, i) + d);
            }
            addInputGradient(dy, x, gain, dx, offset, width, mu, rs, sumG / width, sumGx / width);
        }
    }

    /** dx[offset + i] += rs·(g − meanG − x̂·meanGx) with x̂ = (x − mu)·rs and g = dy·gain, for i < width. */
    private static void addInputGradient(ByteBuffer dy, ByteBuffer x, ByteBuffer gain, ByteBuffer dx, int offset,
                                         int width, float mu, float rs, float meanG, float meanGx) {
        FloatVector means = broadcast(SPECIES, mu);
        FloatVector scales = broadcast(SPECIES, rs);
        FloatVector meanGs = broadcast(SPECIES, meanG);
        FloatVector meanGxs = broadcast(SPECIES, meanGx);
        int i = 0;
        for (int end = vectorEnd(width); i < end; i += LANES) {
            int at = 4 * (offset + i);
            FloatVector normalised = fromByteBuffer(SPECIES, x, at, NATIVE).sub(means).mul(scales);
            FloatVector g = fromByteBuffer(SPECIES, dy, at, NATIVE).mul(fromByteBuffer(SPECIES, gain, 4 * i, NATIVE));
            FloatVector update = g.sub(meanGs).sub(normalised.mul(meanGxs)).mul(scales);
            fromByteBuffer(SPECIES, dx, at, NATIVE).add(update).intoByteBuffer(dx, at, NATIVE);
        }
        for (; i < width; i++) {
            float normalised = (get(x, offset + i) - mu) * rs;
            float g = get(dy, offset + i) * get(gain, i);
            put(dx, offset + i, get(dx, offset + i) + rs * (g - meanG - normalised * meanGx));
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Softmax and cross-entropy

    private static final FloatVector LANE_COUNT = broadcast(SPECIES, LANES);
    private static final FloatVector NEGATIVE_INFINITY = broadcast(SPECIES, Float.NEGATIVE_INFINITY);
    /** 0, 1, …, LANES − 1: each lane's index within a vector. */
    private static final FloatVector LANE_INDICES = ZERO.addIndex(1);

    /**
     * Where the passes over a causal row stop, for its n = t + 1 entries s ≤ t of {@code length}: whole vectors run
     * on past t, those lanes masked, up to the next multiple of {@link #LANES} while that is within the row, which
     * spares most rows a scalar tail (with its scalar exp); only in rows whose length is not a multiple of LANES may
     * the last entries ≤ t take scalar code. From the end returned on, the row gets zeros.
     */
    private static int causalEnd(int n, int length) {
        return Math.max(n, Math.min((n + LANES - 1) & -LANES, vectorEnd(length)));
    }

    static void softmaxRow(ByteBuffer scores, int offset, int t, int length, float scale, float slope) {
        int end = causalEnd(t + 1, length);
        float max = biasScores(scores, offset, t, end, scale, slope);
        float sum = exponentiate(scores, offset, scores, offset, end, max);
        scale(scores, offset, end, 1f / sum);
        zero(scores, offset + end, length - end);
    }

    /**
     * In place for s < end: scores[offset + s] = scale·scores[offset + s] − slope·(t − s) where s ≤ t, −∞ past t
     * (so that exp makes it 0). Returns the maximum.
     */
    static float biasScores(ByteBuffer scores, int offset, int t, int end, float scale, float slope) {
        FloatVector scales = broadcast(SPECIES, scale);
        FloatVector negativeSlopes = broadcast(SPECIES, -slope);
        FloatVector distances = broadcast(SPECIES, t).sub(LANE_INDICES); // t − s per lane
        FloatVector maxima = broadcast(SPECIES, Float.NEGATIVE_INFINITY);
        int s = 0;
        for (int vectorEnd = vectorEnd(end); s < vectorEnd; s += LANES) {
            int at = 4 * (offset + s);
            FloatVector z = fromByteBuffer(SPECIES, scores, at, NATIVE);
            FloatVector biased = z.fma(scales, distances.mul(negativeSlopes))
                    .blend(NEGATIVE_INFINITY, distances.compare(VectorOperators.LT, ZERO));
            biased.intoByteBuffer(scores, at, NATIVE);
            maxima = maxima.max(biased);
            distances = distances.sub(LANE_COUNT);
        }
        float max = maxima.reduceLanes(VectorOperators.MAX);
        for (; s < end; s++) {
            float biased = s <= t ? scale * get(scores, offset + s) - slope * (t - s) : Float.NEGATIVE_INFINITY;
            put(scores, offset + s, biased);
            max = Math.max(max, biased);
        }
        return max;
    }

    /** out[outOffset + i] = e^(x[xOffset + i] − shift) for i < n (out may be x, or null); returns their sum. */
    static float exponentiate(ByteBuffer x, int xOffset, ByteBuffer out, int outOffset, int n, float shift) {
        FloatVector shifts = broadcast(SPECIES, shift);
        FloatVector sums = FloatVector.zero(SPECIES);
        int i = 0;
        int end = vectorEnd(n);
        if (out == null) {
            for (; i < end; i += LANES) {
                sums = sums.add(exp(fromByteBuffer(SPECIES, x, 4 * (xOffset + i), NATIVE).sub(shifts)));
            }
        } else {
            for (; i < end; i += LANES) {
                FloatVector e = exp(fromByteBuffer(SPECIES, x, 4 * (xOffset + i), NATIVE).sub(shifts));
                e.intoByteBuffer(out, 4 * (outOffset + i), NATIVE);
                sums = sums.add(e);
            }
        }
        float sum = sums.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = FastMath.exp(get(x, xOffset + i) - shift);
            sum += e;
            if (out != null) {
                put(out, outOffset + i, e);
            }
        }
        return sum;
    }

    /** x[offset + i] *= factor for i < n. */
    static void scale(ByteBuffer x, int offset, int n, float factor) {
        FloatVector factors = broadcast(SPECIES, factor);
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            int at = 4 * (offset + i);
            fromByteBuffer(SPECIES, x, at, NATIVE).mul(factors).intoByteBuffer(x, at, NATIVE);
        }
        for (; i < n; i++) {
            put(x, offset + i, get(x, offset + i) * factor);
        }
    }

    static void softmaxBackwardRow(ByteBuffer p, ByteBuffer dp, int offset, int t, int length, float scale) {
        int end = causalEnd(t + 1, length);
        float dot = causalDot(p, dp, offset, t, end);
        FloatVector scales = broadcast(SPECIES, scale);
        FloatVector dots = broadcast(SPECIES, dot);
        FloatVector distances = broadcast(SPECIES, t).sub(LANE_INDICES); // t − s per lane
        int s = 0;
        for (int vectorEnd = vectorEnd(end); s < vectorEnd; s += LANES) {
            int at = 4 * (offset + s);
            FloatVector ps = fromByteBuffer(SPECIES, p, at, NATIVE);
            FloatVector dps = fromByteBuffer(SPECIES, dp, at, NATIVE);
            FloatVector ds = ps.mul(scales).mul(dps.sub(dots));
            ds.blend(ZERO, distances.compare(VectorOperators.LT, ZERO)).intoByteBuffer(dp, at, NATIVE);
            distances = distances.sub(LANE_COUNT);
        }
        for (; s < end; s++) {
            put(dp, offset + s, s <= t ? scale * get(p, offset + s) * (get(dp, offset + s) - dot) : 0f);
        }
        zero(dp, offset + end, length - end);
    }

    /** Σ_{s ≤ t} a[offset + s]·b[offset + s], over vectors to {@code end} with the lanes past t masked. */
    private static float causalDot(ByteBuffer a, ByteBuffer b, int offset, int t, int end) {
        FloatVector sums = FloatVector.zero(SPECIES);
        FloatVector distances = broadcast(SPECIES, t).sub(LANE_INDICES); // t − s per lane
        int s = 0;
        for (int vectorEnd = vectorEnd(end); s < vectorEnd; s += LANES) {
            int at = 4 * (offset + s);
            FloatVector products = fromByteBuffer(SPECIES, a, at, NATIVE).mul(fromByteBuffer(SPECIES, b, at, NATIVE));
            sums = sums.add(products.blend(ZERO, distances.compare(VectorOperators.LT, ZERO)));
            distances = distances.sub(LANE_COUNT);
        }
        float sum = sums.reduceLanes(VectorOperators.ADD);
        for (; s < end && s <= t; s++) {
            sum += get(a, offset + s) * get(b, offset + s);
        }
        return sum;
    }

    /** Σ_{i < n} a[aOffset + i]·b[bOffset + i]. */
    static float dot(ByteBuffer a, int aOffset, ByteBuffer b, int bOffset, int n) {
        FloatVector sums = FloatVector.zero(SPECIES);
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            sums = fromByteBuffer(SPECIES, a, 4 * (aOffset + i), NATIVE)
                    .fma(fromByteBuffer(SPECIES, b, 4 * (bOffset + i), NATIVE), sums);
        }
        float sum = sums.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += get(a, aOffset + i) * get(b, bOffset + i);
        }
        return sum;
    }

    /** In place on dp: dp[offset + i] = scale·p[offset + i]·(dp[offset + i] − rowDot) for i < n. */
    static void softmaxGradientRow(ByteBuffer p, ByteBuffer dp, int offset, int n, float rowDot, float scale) {
        FloatVector scales = broadcast(SPECIES, scale);
        FloatVector dots = broadcast(SPECIES, rowDot);
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            int at = 4 * (offset + i);
            FloatVector ps = fromByteBuffer(SPECIES, p, at, NATIVE);
            ps.mul(scales).mul(fromByteBuffer(SPECIES, dp, at, NATIVE).sub(dots)).intoByteBuffer(dp, at, NATIVE);
        }
        for (; i < n; i++) {
            put(dp, offset + i, scale * get(p, offset + i) * (get(dp, offset + i) - rowDot));
        }
    }

    static double crossEntropyRow(ByteBuffer logits, int offset, int vocab, int target, ByteBuffer dLogits,
                                  float gradScale) {
        float max = max(logits, offset, vocab);
        float sum = exponentiate(logits, offset, dLogits, offset, vocab, max);
        if (dLogits != null) {
            scale(dLogits, offset, vocab, gradScale / sum);
            put(dLogits, offset + target, get(dLogits, offset + target) - gradScale);
        }
        return Math.log(sum) + max - get(logits, offset + target);
    }

    /** The maximum of x[offset + i] over i < n. */
    private static float max(ByteBuffer x, int offset, int n) {
        FloatVector maxima = broadcast(SPECIES, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            maxima = maxima.max(fromByteBuffer(SPECIES, x, 4 * (offset + i), NATIVE));
        }
        float max = maxima.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            max = Math.max(max, get(x, offset + i));
        }
        return max;
    }
}
