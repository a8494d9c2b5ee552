package io.ringformer.zoo.fused;

import static io.ringformer.zoo.fused.RowKernels.get;
import static io.ringformer.zoo.fused.RowKernels.put;

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
 * fails to link (NoClassDefFoundError in the verifier) when {@code jdk.incubator.vector} is not loaded, so
 * VectorKernels must not, or {@link VectorKernels#isAvailable()} could not even be called.
 *
 * <p>Each loop runs whole vectors of {@link #LANES} floats, then the remaining tail with scalar code ({@link FastMath}'s
 * formulas; masked vector operations are slow on JDK 17). Helpers that take or return vectors are small and static
 * so that C2 inlines them and no vector is ever boxed: nothing here allocates once compiled.
 */
final class VectorLoops {

    private VectorLoops() {}

    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    static final int LANES = SPECIES.length();
    /** Half as wide as {@link #SPECIES}: the same number of bfloat16 lanes. */
    private static final VectorSpecies<Short> HALVES =
            VectorSpecies.of(short.class, VectorShape.forBitSize(SPECIES.vectorBitSize() / 2));
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** 0, 1, …, LANES − 1: each lane's index within a vector. */
    private static final float[] IOTA = new float[LANES];

    static {
        for (int i = 0; i < LANES; i++) {
            IOTA[i] = i;
        }
    }

    static int bits() {
        return SPECIES.vectorBitSize();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Loads, stores and the math

    /** The vector at float index {@code index}. */
    private static FloatVector load(ByteBuffer buffer, int index) {
        return FloatVector.fromByteBuffer(SPECIES, buffer, Float.BYTES * index, NATIVE);
    }

    private static void store(FloatVector vector, ByteBuffer buffer, int index) {
        vector.intoByteBuffer(buffer, Float.BYTES * index, NATIVE);
    }

    private static FloatVector all(float value) {
        return FloatVector.broadcast(SPECIES, value);
    }

    /** The end of the whole vectors in a run of n floats. */
    private static int vectorEnd(int n) {
        return SPECIES.loopBound(n);
    }

    /** {@link FastMath#exp} lane-wise; 2ⁿ built from bits by shifting, which is cheap (a float→int convert is not). */
    static FloatVector exp(FloatVector x) {
        FloatVector clamped = x.max(FastMath.EXP_MIN).min(FastMath.EXP_MAX);
        FloatVector shifted = clamped.fma(all(FastMath.LOG2E), all(FastMath.ROUNDING_MAGIC)); // n + magic
        FloatVector n = shifted.sub(FastMath.ROUNDING_MAGIC);
        FloatVector r = n.fma(all(-FastMath.LN2_HI), clamped);
        r = n.fma(all(-FastMath.LN2_LO), r);
        FloatVector p = r.fma(all(FastMath.EXP_P5), all(FastMath.EXP_P4));
        p = p.fma(r, all(FastMath.EXP_P3));
        p = p.fma(r, all(FastMath.EXP_P2));
        p = p.fma(r, all(FastMath.EXP_P1));
        p = p.fma(r, all(FastMath.EXP_P0));
        FloatVector er = p.fma(r.mul(r), r).add(1f);
        FloatVector twoToN = shifted.reinterpretAsInts().add(127).lanewise(VectorOperators.LSHL, 23)
                .reinterpretAsFloats();
        return er.mul(twoToN).blend(0f, x.lt(FastMath.EXP_MIN));
    }

    /** {@link FastMath#erfcx} lane-wise, z ≥ 0. */
    static FloatVector erfcx(FloatVector z) {
        FloatVector t = all(1f).div(z.fma(all(FastMath.ERFCX_P), all(1f)));
        FloatVector q = t.fma(all(FastMath.ERFCX_Q8), all(FastMath.ERFCX_Q7));
        q = q.fma(t, all(FastMath.ERFCX_Q6));
        q = q.fma(t, all(FastMath.ERFCX_Q5));
        q = q.fma(t, all(FastMath.ERFCX_Q4));
        q = q.fma(t, all(FastMath.ERFCX_Q3));
        q = q.fma(t, all(FastMath.ERFCX_Q2));
        q = q.fma(t, all(FastMath.ERFCX_Q1));
        q = q.fma(t, all(FastMath.ERFCX_Q0));
        return t.mul(q);
    }

    /** {@link FastMath#gaussian} lane-wise: e^(−x²/2). */
    private static FloatVector gaussian(FloatVector x) {
        return exp(x.mul(x).mul(-0.5f));
    }

    /** {@link FastMath#normalCdf} lane-wise. */
    private static FloatVector normalCdf(FloatVector x, FloatVector gaussian) {
        FloatVector lowerTail = erfcx(x.abs().mul(FastMath.SQRT_HALF)).mul(gaussian).mul(0.5f);
        return all(1f).sub(lowerTail).blend(lowerTail, x.lt(0f));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Element-wise kernels

    static void gelu(ByteBuffer x, ByteBuffer y, int n) {
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            FloatVector v = load(x, i);
            store(v.mul(normalCdf(v, gaussian(v))), y, i);
        }
        for (; i < n; i++) {
            put(y, i, FastMath.gelu(get(x, i)));
        }
    }

    static void geluBackward(ByteBuffer x, ByteBuffer dy, ByteBuffer dx, int n) {
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            FloatVector v = load(x, i);
            FloatVector gaussian = gaussian(v);
            FloatVector derivative = v.fma(gaussian.mul(FastMath.INV_SQRT_2PI), normalCdf(v, gaussian));
            store(load(dy, i).mul(derivative), dx, i);
        }
        for (; i < n; i++) {
            put(dx, i, get(dy, i) * FastMath.geluDerivative(get(x, i)));
        }
    }

    /** {@link FastMath#toBf16} lane-wise on the float bits, then narrowed to 16-bit lanes. */
    static void toBf16(ByteBuffer src, ByteBuffer dst, int n) {
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            IntVector bits = load(src, i).reinterpretAsInts();
            IntVector upper = bits.lanewise(VectorOperators.LSHR, 16);
            IntVector rounded = bits.add(upper.and(1)).add(0x7FFF).lanewise(VectorOperators.LSHR, 16);
            VectorMask<Integer> nan = bits.and(0x7FFFFFFF).compare(VectorOperators.GT, 0x7F800000);
            IntVector bf16 = rounded.blend(upper.or(0x40), nan);
            ShortVector narrowed = (ShortVector) bf16.convertShape(VectorOperators.I2S, HALVES, 0);
            narrowed.intoByteBuffer(dst, Short.BYTES * i, NATIVE);
        }
        for (; i < n; i++) {
            dst.putShort(Short.BYTES * i, FastMath.toBf16(get(src, i)));
        }
    }

    static void zero(ByteBuffer buffer, int offset, int n) {
        FloatVector zero = all(0f);
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            store(zero, buffer, offset + i);
        }
        for (; i < n; i++) {
            put(buffer, offset + i, 0f);
        }
    }

    static void axpy(float alpha, ByteBuffer x, int xOffset, ByteBuffer y, int yOffset, int n) {
        FloatVector a = all(alpha);
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            store(load(x, xOffset + i).fma(a, load(y, yOffset + i)), y, yOffset + i);
        }
        for (; i < n; i++) {
            put(y, yOffset + i, get(y, yOffset + i) + alpha * get(x, xOffset + i));
        }
    }

    static void scaleAdd(float alpha, ByteBuffer a, int aOffset, ByteBuffer b, int bOffset, ByteBuffer out,
                         int outOffset, int n) {
        FloatVector scale = all(alpha);
        int i = 0;
        int end = vectorEnd(n);
        if (b == null) {
            for (; i < end; i += LANES) {
                store(load(a, aOffset + i).mul(scale), out, outOffset + i);
            }
        } else {
            for (; i < end; i += LANES) {
                store(load(a, aOffset + i).fma(scale, load(b, bOffset + i)), out, outOffset + i);
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
        int i = 0;
        for (int end = vectorEnd(n); i < end; i += LANES) {
            FloatVector a = load(buffer, aOffset + i);
            FloatVector b = load(buffer, bOffset + i);
            FloatVector c = load(cos, angleOffset + i);
            FloatVector s = load(sin, angleOffset + i).mul(sign);
            store(a.mul(c).sub(b.mul(s)), buffer, aOffset + i);
            store(b.mul(c).add(a.mul(s)), buffer, bOffset + i);
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
    // Row kernels

    static void layerNorm(ByteBuffer x, ByteBuffer gain, ByteBuffer bias, ByteBuffer y, ByteBuffer mean,
                          ByteBuffer rstd, int rows, int width, float eps) {
        int end = vectorEnd(width);
        for (int row = 0; row < rows; row++) {
            int offset = row * width;
            FloatVector sums = all(0f);
            int i = 0;
            for (; i < end; i += LANES) {
                sums = sums.add(load(x, offset + i));
            }
            float sum = sums.reduceLanes(VectorOperators.ADD);
            for (; i < width; i++) {
                sum += get(x, offset + i);
            }
            float mu = sum / width;

            FloatVector squareSums = all(0f);
            i = 0;
            for (; i < end; i += LANES) {
                FloatVector centred = load(x, offset + i).sub(mu);
                squareSums = centred.fma(centred, squareSums);
            }
            float squares = squareSums.reduceLanes(VectorOperators.ADD);
            for (; i < width; i++) {
                float centred = get(x, offset + i) - mu;
                squares += centred * centred;
            }
            float rs = (float) (1.0 / Math.sqrt(squares / width + eps));
            put(mean, row, mu);
            put(rstd, row, rs);

            i = 0;
            for (; i < end; i += LANES) {
                FloatVector normalised = load(x, offset + i).sub(mu).mul(rs);
                store(normalised.fma(load(gain, i), load(bias, i)), y, offset + i);
            }
            for (; i < width; i++) {
                float normalised = (get(x, offset + i) - mu) * rs;
                put(y, offset + i, normalised * get(gain, i) + get(bias, i));
            }
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
            FloatVector sumsG = all(0f);
            FloatVector sumsGx = all(0f);
            int i = 0;
            for (; i < end; i += LANES) {
                FloatVector normalised = load(x, offset + i).sub(mu).mul(rs);
                FloatVector d = load(dy, offset + i);
                FloatVector g = d.mul(load(gain, i));
                sumsG = sumsG.add(g);
                sumsGx = g.fma(normalised, sumsGx);
                store(d.fma(normalised, load(dGain, i)), dGain, i);
                store(d.add(load(dBias, i)), dBias, i);
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
            float meanG = sumG / width;
            float meanGx = sumGx / width;

            i = 0;
            for (; i < end; i += LANES) {
                FloatVector normalised = load(x, offset + i).sub(mu).mul(rs);
                FloatVector g = load(dy, offset + i).mul(load(gain, i));
                FloatVector update = g.sub(meanG).sub(normalised.mul(meanGx)).mul(rs);
                store(load(dx, offset + i).add(update), dx, offset + i);
            }
            for (; i < width; i++) {
                float normalised = (get(x, offset + i) - mu) * rs;
                float g = get(dy, offset + i) * get(gain, i);
                put(dx, offset + i, get(dx, offset + i) + rs * (g - meanG - normalised * meanGx));
            }
        }
    }

    static void softmaxRow(ByteBuffer scores, int offset, int n, float scale, float slope) {
        int t = n - 1;
        int end = vectorEnd(n);
        // Pass 1: the biased scores, in place, and their maximum. distance = t − s for each lane's s.
        FloatVector scales = all(scale);
        FloatVector negativeSlope = all(-slope);
        FloatVector distance = all(t).sub(FloatVector.fromArray(SPECIES, IOTA, 0));
        FloatVector maxima = all(Float.NEGATIVE_INFINITY);
        int s = 0;
        for (; s < end; s += LANES) {
            FloatVector biased = load(scores, offset + s).fma(scales, distance.mul(negativeSlope));
            store(biased, scores, offset + s);
            maxima = maxima.max(biased);
            distance = distance.sub(LANES);
        }
        float max = maxima.reduceLanes(VectorOperators.MAX);
        for (; s < n; s++) {
            float biased = scale * get(scores, offset + s) - slope * (t - s);
            put(scores, offset + s, biased);
            max = Math.max(max, biased);
        }
        // Pass 2: exponentials and their sum.
        FloatVector sums = all(0f);
        s = 0;
        for (; s < end; s += LANES) {
            FloatVector e = exp(load(scores, offset + s).sub(max));
            store(e, scores, offset + s);
            sums = sums.add(e);
        }
        float sum = sums.reduceLanes(VectorOperators.ADD);
        for (; s < n; s++) {
            float e = FastMath.exp(get(scores, offset + s) - max);
            put(scores, offset + s, e);
            sum += e;
        }
        // Pass 3: normalise.
        float inverse = 1f / sum;
        s = 0;
        for (; s < end; s += LANES) {
            store(load(scores, offset + s).mul(inverse), scores, offset + s);
        }
        for (; s < n; s++) {
            put(scores, offset + s, get(scores, offset + s) * inverse);
        }
    }

    static void softmaxBackwardRow(ByteBuffer p, ByteBuffer dp, int offset, int n, float scale) {
        int end = vectorEnd(n);
        FloatVector dots = all(0f);
        int s = 0;
        for (; s < end; s += LANES) {
            dots = load(p, offset + s).fma(load(dp, offset + s), dots);
        }
        float dot = dots.reduceLanes(VectorOperators.ADD);
        for (; s < n; s++) {
            dot += get(p, offset + s) * get(dp, offset + s);
        }
        s = 0;
        for (; s < end; s += LANES) {
            FloatVector ds = load(p, offset + s).mul(scale).mul(load(dp, offset + s).sub(dot));
            store(ds, dp, offset + s);
        }
        for (; s < n; s++) {
            put(dp, offset + s, scale * get(p, offset + s) * (get(dp, offset + s) - dot));
        }
    }

    static double crossEntropyRow(ByteBuffer logits, int offset, int vocab, int target, ByteBuffer dLogits,
                                  float gradScale) {
        int end = vectorEnd(vocab);
        FloatVector maxima = all(Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i < end; i += LANES) {
            maxima = maxima.max(load(logits, offset + i));
        }
        float max = maxima.reduceLanes(VectorOperators.MAX);
        for (; i < vocab; i++) {
            max = Math.max(max, get(logits, offset + i));
        }

        FloatVector sums = all(0f);
        i = 0;
        if (dLogits == null) {
            for (; i < end; i += LANES) {
                sums = sums.add(exp(load(logits, offset + i).sub(max)));
            }
        } else {
            for (; i < end; i += LANES) {
                FloatVector e = exp(load(logits, offset + i).sub(max));
                store(e, dLogits, offset + i);
                sums = sums.add(e);
            }
        }
        float sum = sums.reduceLanes(VectorOperators.ADD);
        for (; i < vocab; i++) {
            float e = FastMath.exp(get(logits, offset + i) - max);
            sum += e;
            if (dLogits != null) {
                put(dLogits, offset + i, e);
            }
        }

        if (dLogits != null) {
            float factor = gradScale / sum;
            i = 0;
            for (; i < end; i += LANES) {
                store(load(dLogits, offset + i).mul(factor), dLogits, offset + i);
            }
            for (; i < vocab; i++) {
                put(dLogits, offset + i, get(dLogits, offset + i) * factor);
            }
            put(dLogits, offset + target, get(dLogits, offset + target) - gradScale);
        }
        return Math.log(sum) + max - get(logits, offset + target);
    }
}
