package io.ringformer.worker.exchange;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The 16-bit conversions against known encodings, exhaustive round trips and a nearest-value property. */
class WireTest {

    private static void assertBits(int expected, short actual, String what) {
        assertEquals(String.format("0x%04X", expected), String.format("0x%04X", actual & 0xFFFF), what);
    }

    @Test
    void bf16KnownValues() {
        assertBits(0x3F80, Wire.toBf16(1.0f), "1");
        assertBits(0xC020, Wire.toBf16(-2.5f), "-2.5");
        assertBits(0x4780, Wire.toBf16(65504f), "65504 = 0x477FE000 rounds up to 65536");
        assertBits(0x0000, Wire.toBf16(0f), "+0");
        assertBits(0x8000, Wire.toBf16(-0f), "-0");
        assertBits(0x7F80, Wire.toBf16(Float.POSITIVE_INFINITY), "inf");
        assertBits(0xFF80, Wire.toBf16(Float.NEGATIVE_INFINITY), "-inf");
        assertBits(0x7F80, Wire.toBf16(Float.MAX_VALUE), "max float rounds to inf");
        assertBits(0x3DCD, Wire.toBf16(0.1f), "0.1 = 0x3DCCCCCD");
        // round to nearest, ties to even
        assertBits(0x3F80, Wire.toBf16(Float.intBitsToFloat(0x3F80_8000)), "tie, even below");
        assertBits(0x3F82, Wire.toBf16(Float.intBitsToFloat(0x3F81_8000)), "tie, even above");
        assertBits(0x3F81, Wire.toBf16(Float.intBitsToFloat(0x3F80_8001)), "just above a tie");
        assertBits(0x3F80, Wire.toBf16(Float.intBitsToFloat(0x3F80_7FFF)), "just below a tie");
        // subnormals
        assertBits(0x0000, Wire.toBf16(Float.MIN_VALUE), "smallest float subnormal rounds to 0");
        assertBits(0x0001, Wire.toBf16(Float.intBitsToFloat(0x0001_0000)), "a bf16 subnormal");
        assertBits(0x0002, Wire.toBf16(Float.intBitsToFloat(0x0001_8000)), "subnormal tie to even");
        assertTrue(Float.isNaN(Wire.fromBf16(Wire.toBf16(Float.NaN))), "NaN stays NaN");
        assertTrue(Float.isNaN(Wire.fromBf16(Wire.toBf16(Float.intBitsToFloat(0x7F80_0001)))),
                "a NaN whose payload is only in the low bits stays NaN");

        assertEquals(1.0f, Wire.fromBf16((short) 0x3F80));
        assertEquals(-2.5f, Wire.fromBf16((short) 0xC020));
        assertEquals(65536f, Wire.fromBf16((short) 0x4780));
        assertEquals(Float.intBitsToFloat(0x0001_0000), Wire.fromBf16((short) 0x0001));
    }

    @Test
    void fp16KnownValues() {
        assertBits(0x3C00, Wire.toFp16(1.0f), "1");
        assertBits(0xC100, Wire.toFp16(-2.5f), "-2.5");
        assertBits(0x7BFF, Wire.toFp16(65504f), "largest finite");
        assertBits(0x7BFF, Wire.toFp16(65519f), "below the halfway point to 2^16");
        assertBits(0x7C00, Wire.toFp16(65520f), "halfway to 2^16: ties to even = infinity");
        assertBits(0x7C00, Wire.toFp16(1e5f), "overflow");
        assertBits(0xFC00, Wire.toFp16(-1e5f), "negative overflow");
        assertBits(0x7C00, Wire.toFp16(Float.POSITIVE_INFINITY), "inf");
        assertBits(0x0000, Wire.toFp16(0f), "+0");
        assertBits(0x8000, Wire.toFp16(-0f), "-0");
        assertBits(0x2E66, Wire.toFp16(0.1f), "0.1");
        assertBits(0x3555, Wire.toFp16(1f / 3), "1/3");
        assertBits(0x0400, Wire.toFp16(0x1p-14f), "smallest normal");
        // round to nearest, ties to even
        assertBits(0x3C00, Wire.toFp16(1f + 0x1p-11f), "tie, even below");
        assertBits(0x3C02, Wire.toFp16(1f + 3 * 0x1p-11f), "tie, even above");
        assertBits(0x3C01, Wire.toFp16(Math.nextUp(1f + 0x1p-11f)), "just above a tie");
        // subnormals: m × 2^-24
        assertBits(0x0001, Wire.toFp16(0x1p-24f), "smallest subnormal");
        assertBits(0x03FF, Wire.toFp16(1023 * 0x1p-24f), "largest subnormal");
        assertBits(0x0000, Wire.toFp16(0x1p-25f), "half the smallest subnormal: tie to even = 0");
        assertBits(0x0001, Wire.toFp16(Math.nextUp(0x1p-25f)), "just above it");
        assertBits(0x0002, Wire.toFp16(1.5f * 0x1p-24f), "subnormal tie, even above");
        assertBits(0x0002, Wire.toFp16(2.5f * 0x1p-24f), "subnormal tie, even below");
        assertBits(0x8003, Wire.toFp16(-3 * 0x1p-24f), "negative subnormal");
        assertBits(0x0400, Wire.toFp16(1023.5f * 0x1p-24f), "rounds up out of the subnormals");
        assertBits(0x0000, Wire.toFp16(Float.MIN_VALUE), "float subnormal");
        assertTrue(Float.isNaN(Wire.fromFp16(Wire.toFp16(Float.NaN))), "NaN stays NaN");
        assertTrue(Float.isNaN(Wire.fromFp16(Wire.toFp16(Float.intBitsToFloat(0x7F80_0001)))),
                "a NaN whose payload is only in the low bits stays NaN");

        assertEquals(1.0f, Wire.fromFp16((short) 0x3C00));
        assertEquals(-2.5f, Wire.fromFp16((short) 0xC100));
        assertEquals(65504f, Wire.fromFp16((short) 0x7BFF));
        assertEquals(0x1p-24f, Wire.fromFp16((short) 0x0001));
        assertEquals(1023 * 0x1p-24f, Wire.fromFp16((short) 0x03FF));
        assertEquals(-0f, Wire.fromFp16((short) 0x8000));
        assertEquals(Float.NEGATIVE_INFINITY, Wire.fromFp16((short) 0xFC00));
    }

    @Test
    void everyEncodingRoundTrips() {
        for (int bits = 0; bits < 0x10000; bits++) {
            short h = (short) bits;
            for (Wire wire : new Wire[] {Wire.BF16, Wire.FP16}) {
                float value = wire.decode(h);
                if (Float.isNaN(value)) {
                    assertTrue(Float.isNaN(wire.decode(wire.encode(value))), wire + " NaN " + bits);
                } else {
                    assertBits(bits, wire.encode(value), wire + " round trip");
                }
            }
        }
    }

    /** The encoding is the nearest value (ties to the even encoding), for random floats across fp16's range. */
    @Test
    void encodingPicksTheNearestValueTiesToEven() {
        Random random = new Random(7);
        for (int i = 0; i < 1_000_000; i++) {
            float value = (float) (random.nextGaussian() * Math.pow(2, random.nextInt(44) - 28));
            checkNearest(Wire.FP16, value);
            checkNearest(Wire.BF16, value);
            checkNearest(Wire.BF16, Float.intBitsToFloat(random.nextInt() & 0x7F7F_FFFF));
        }
    }

    private static void checkNearest(Wire wire, float value) {
        short encoded = wire.encode(value);
        float rounded = wire.decode(encoded);
        if (Float.isInfinite(rounded)) {
            return;                                                 // overflow is checked by the known values
        }
        double error = Math.abs((double) rounded - value);
        for (int neighbour : new int[] {(encoded & 0xFFFF) - 1, (encoded & 0xFFFF) + 1}) {
            float other = wire.decode((short) neighbour);
            if (Float.isNaN(other) || Float.isInfinite(other) || Math.signum(other) * Math.signum(rounded) < 0) {
                continue;
            }
            double otherError = Math.abs((double) other - value);
            if (otherError < error || (otherError == error && (encoded & 1) == 1)) {
                fail(wire + " encodes " + value + " as " + rounded + " but " + other + " is nearer (or the even tie)");
            }
        }
    }
}
