package io.ringformer.zoo.fused;

import java.nio.ByteBuffer;

/**
 * The kernels as plain loops over {@link ByteBuffer#getFloat(int)}: the reference for {@link VectorKernels}, and
 * the fallback when the Vector API is not available. Sums are in float, in index order; exp, erf and the GELU are
 * {@link FastMath}'s.
 */
public final class ScalarKernels extends RowKernels {

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void layerNorm(ByteBuffer x, ByteBuffer gain, ByteBuffer bias, ByteBuffer y, ByteBuffer mean,
                          ByteBuffer rstd, int rows, int width, float eps) {
        for (int row = 0; row < rows; row++) {
            int offset = row * width;
            float sum = 0f;
            for (int i = 0; i < width; i++) {
                sum += get(x, offset + i);
            }
            float mu = sum / width;
            float squares = 0f;
            for (int i = 0; i < width; i++) {
                float centred = get(x, offset + i) - mu;
                squares += centred * centred;
            }
            float rs = (float) (1.0 / Math.sqrt(squares / width + eps));
            put(mean, row, mu);
            put(rstd, row, rs);
            for (int i = 0; i < width; i++) {
                float normalised = (get(x, offset + i) - mu) * rs;
                put(y, offset + i, normalised * get(gain, i) + get(bias, i));
            }
        }
    }

    @Override
    public void layerNormBackward(ByteBuffer dy, ByteBuffer x, ByteBuffer gain, ByteBuffer mean, ByteBuffer rstd,
                                  ByteBuffer dx, ByteBuffer dGain, ByteBuffer dBias, int rows, int width) {
        zero(dGain, 0, width);
        zero(dBias, 0, width);
        for (int row = 0; row < rows; row++) {
            int offset = row * width;
            float mu = get(mean, row);
            float rs = get(rstd, row);
            float sumG = 0f;
            float sumGx = 0f;
            for (int i = 0; i < width; i++) {
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
            for (int i = 0; i < width; i++) {
                float normalised = (get(x, offset + i) - mu) * rs;
                float g = get(dy, offset + i) * get(gain, i);
                put(dx, offset + i, get(dx, offset + i) + rs * (g - meanG - normalised * meanGx));
            }
        }
    }

    @Override
    public void gelu(ByteBuffer x, ByteBuffer y, ByteBuffer slope, int n) {
        for (int i = 0; i < n; i++) {
            float v = get(x, i);
            float gaussian = FastMath.gaussian(v);
            float cdf = FastMath.normalCdf(v, gaussian);
            put(y, i, v * cdf);
            if (slope != null) {
                put(slope, i, FastMath.geluDerivative(v, gaussian, cdf));
            }
        }
    }

    @Override
    public void geluBackward(ByteBuffer dy, ByteBuffer slope, ByteBuffer dx, int n) {
        for (int i = 0; i < n; i++) {
            put(dx, i, get(dy, i) * get(slope, i));
        }
    }

    @Override
    public void toBf16(ByteBuffer src, ByteBuffer dst, int n) {
        for (int i = 0; i < n; i++) {
            dst.putShort(2 * i, FastMath.toBf16(get(src, i)));
        }
    }

    @Override
    public void addToArray(ByteBuffer src, float[] into, int offset, int n) {
        for (int i = offset; i < offset + n; i++) {
            into[i] += get(src, i);
        }
    }

    @Override
    void zero(ByteBuffer buffer, int offset, int n) {
        for (int i = 0; i < n; i++) {
            put(buffer, offset + i, 0f);
        }
    }

    @Override
    void axpy(float alpha, ByteBuffer x, int xOffset, ByteBuffer y, int yOffset, int n) {
        for (int i = 0; i < n; i++) {
            put(y, yOffset + i, get(y, yOffset + i) + alpha * get(x, xOffset + i));
        }
    }

    @Override
    void scaleAdd(float alpha, ByteBuffer a, int aOffset, ByteBuffer b, int bOffset, ByteBuffer out, int outOffset,
                  int n) {
        for (int i = 0; i < n; i++) {
            float value = alpha * get(a, aOffset + i);
            put(out, outOffset + i, b == null ? value : value + get(b, bOffset + i));
        }
    }

    @Override
    void softmaxRow(ByteBuffer scores, int offset, int t, int length, float scale, float slope) {
        int n = t + 1;
        float max = Float.NEGATIVE_INFINITY;
        for (int s = 0; s < n; s++) {
            float biased = scale * get(scores, offset + s) - slope * (t - s);
            put(scores, offset + s, biased);
            max = Math.max(max, biased);
        }
        float sum = 0f;
        for (int s = 0; s < n; s++) {
            float e = FastMath.exp(get(scores, offset + s) - max);
            put(scores, offset + s, e);
            sum += e;
        }
        float inverse = 1f / sum;
        for (int s = 0; s < n; s++) {
            put(scores, offset + s, get(scores, offset + s) * inverse);
        }
        zero(scores, offset + n, length - n);
    }

    @Override
    void softmaxBackwardRow(ByteBuffer p, ByteBuffer dp, int offset, int t, int length, float scale) {
        int n = t + 1;
        float dot = 0f;
        for (int s = 0; s < n; s++) {
            dot += get(p, offset + s) * get(dp, offset + s);
        }
        for (int s = 0; s < n; s++) {
            put(dp, offset + s, scale * get(p, offset + s) * (get(dp, offset + s) - dot));
        }
        zero(dp, offset + n, length - n);
    }

    @Override
    public float biasRow(ByteBuffer scores, int offset, int n, int last, float scale, float slope) {
        float max = Float.NEGATIVE_INFINITY;
        for (int s = 0; s < n; s++) {
            float biased = s <= last ? scale * get(scores, offset + s) - slope * (last - s) : Float.NEGATIVE_INFINITY;
            put(scores, offset + s, biased);
            max = Math.max(max, biased);
        }
        return max;
    }

    @Override
    public float expRow(ByteBuffer x, int offset, int n, float shift) {
        float sum = 0f;
        for (int s = 0; s < n; s++) {
            float e = FastMath.exp(get(x, offset + s) - shift);
            put(x, offset + s, e);
            sum += e;
        }
        return sum;
    }

    @Override
    public void scaleRow(ByteBuffer x, int offset, int n, float factor) {
        scaleAdd(factor, x, offset, null, 0, x, offset, n);
    }

    @Override
    public float dot(ByteBuffer a, int aOffset, ByteBuffer b, int bOffset, int n) {
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            sum += get(a, aOffset + i) * get(b, bOffset + i);
        }
        return sum;
    }

    @Override
    public void softmaxGradientRow(ByteBuffer p, ByteBuffer dp, int offset, int n, float rowDot, float scale) {
        for (int s = 0; s < n; s++) {
            put(dp, offset + s, scale * get(p, offset + s) * (get(dp, offset + s) - rowDot));
        }
    }

    @Override
    double crossEntropyRow(ByteBuffer logits, int offset, int vocab, int target, ByteBuffer dLogits,
                           float gradScale) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, get(logits, offset + i));
        }
        float sum = 0f;
        for (int i = 0; i < vocab; i++) {
            float e = FastMath.exp(get(logits, offset + i) - max);
            sum += e;
            if (dLogits != null) {
                put(dLogits, offset + i, e);
            }
        }
        if (dLogits != null) {
            float factor = gradScale / sum;
            for (int i = 0; i < vocab; i++) {
                put(dLogits, offset + i, get(dLogits, offset + i) * factor);
            }
            put(dLogits, offset + target, get(dLogits, offset + target) - gradScale);
        }
        return Math.log(sum) + max - get(logits, offset + target);
    }

    @Override
    void rotate(ByteBuffer buffer, int aOffset, int bOffset, ByteBuffer cos, ByteBuffer sin, int angleOffset, int n,
                boolean inverse) {
        float sign = inverse ? -1f : 1f;
        for (int i = 0; i < n; i++) {
            float a = get(buffer, aOffset + i);
            float b = get(buffer, bOffset + i);
            float c = get(cos, angleOffset + i);
            float s = sign * get(sin, angleOffset + i);
            put(buffer, aOffset + i, a * c - b * s);
            put(buffer, bOffset + i, b * c + a * s);
        }
    }
}
