package io.ringformer.worker.exchange;

/**
 * How gradient values travel between ranks. Sums are always taken in fp32; {@link #BF16} and {@link #FP16} only
 * shrink the bytes on the wire (one rounding per hop, round-to-nearest-even).
 *
 * <p>Java 17 has no {@code Float.floatToFloat16} (it arrived in Java 20), so both 16-bit conversions are written
 * here from the IEEE 754 bit layouts:
 * <pre>
 *   fp32  s eeeeeeee mmmmmmmmmmmmmmmmmmmmmmm   bias 127
 *   bf16  s eeeeeeee mmmmmmm                   bias 127 (the top half of an fp32)
 *   fp16  s eeeee    mmmmmmmmmm                bias 15, subnormals below 2^-14, largest finite 65504
 * </pre>
 */
public enum Wire {
    FP32(4),
    BF16(2),
    FP16(2);

    private final int bytesPerElement;

    Wire(int bytesPerElement) {
        this.bytesPerElement = bytesPerElement;
    }

    public int bytesPerElement() {
        return bytesPerElement;
    }

    /** This format's 16-bit encoding of {@code value} (BF16 or FP16 only). */
    public short encode(float value) {
        return this == BF16 ? toBf16(value) : toFp16(value);
    }

    /** The fp32 value of a 16-bit encoding (BF16 or FP16 only). */
    public float decode(short bits) {
        return this == BF16 ? fromBf16(bits) : fromFp16(bits);
    }

    /** {@code value} rounded to the nearest bf16, ties to even; NaN stays a (quiet) NaN. */
    public static short toBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) ((bits >>> 16) | 0x0040);                 // NaN: keep sign and payload, force quiet
        }
        int lsb = (bits >>> 16) & 1;                                 // ties go to the even neighbour
        return (short) ((bits + 0x7FFF + lsb) >>> 16);               // a carry into the exponent is correct rounding
    }

    public static float fromBf16(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * {@code value} rounded to the nearest fp16 (IEEE binary16), ties to even: values from 65520 up become
     * infinity, values at or below 2^-25 in magnitude become a signed zero, and the range in between that lies
     * below 2^-14 becomes a subnormal.
     */
    public static short toFp16(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFF_FFFF;
        if (abs >= 0x7F80_0000) {                                    // infinity or NaN
            return (short) (abs == 0x7F80_0000 ? sign | 0x7C00 : sign | 0x7E00 | ((abs >>> 13) & 0x3FF));
        }
        if (abs >= 0x477F_F000) {                                    // ≥ 65520, halfway to 2^16: rounds to infinity
            return (short) (sign | 0x7C00);
        }
        if (abs >= 0x3880_0000) {                                    // ≥ 2^-14: a normal fp16
            int rebiased = abs - ((127 - 15) << 23);                 // exponent bias 127 → 15
            int lsb = (rebiased >>> 13) & 1;
            return (short) (sign | ((rebiased + 0x0FFF + lsb) >>> 13)); // 23 → 10 mantissa bits, ties to even
        }
        if (abs <= 0x3300_0000) {                                    // ≤ 2^-25 (half the smallest subnormal)
            return (short) sign;
        }
        // subnormal fp16: m × 2^-24 with m = round(|value| × 2^24); |value| = mantissa × 2^(exponent − 150)
        int exponent = abs >>> 23;                                   // 102 ≤ exponent ≤ 112 here
        int mantissa = (abs & 0x7F_FFFF) | 0x80_0000;
        int shift = 126 - exponent;                                  // 14 … 24
        int m = mantissa >>> shift;
        int rest = mantissa & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rest > half || (rest == half && (m & 1) == 1)) {
            m++;                                                     // may reach 0x400, the smallest normal: right
        }
        return (short) (sign | m);
    }

    public static float fromFp16(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        if (exponent == 0x1F) {                                      // infinity or NaN
            return Float.intBitsToFloat(sign | 0x7F80_0000 | (mantissa << 13));
        }
        if (exponent == 0) {                                         // zero or subnormal: mantissa × 2^-24, exact
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
    }

    /** The format named in {@code exchange.wire}: fp32, bf16 or fp16 (any case). */
    public static Wire parse(String name) {
        for (Wire wire : values()) {
            if (wire.name().equalsIgnoreCase(name)) {
                return wire;
            }
        }
        throw new IllegalArgumentException("exchange.wire must be fp32, bf16 or fp16, got '" + name + "'");
    }
}
