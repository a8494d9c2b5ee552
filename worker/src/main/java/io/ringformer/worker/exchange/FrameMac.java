package io.ringformer.worker.exchange;

import io.ringformer.zoo.fused.VectorKernels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;

/**
 * The message authentication code on every ring frame, keyed from the job token, so that only holders of the token
 * can put values into a job's all-reduce. A frame whose tag does not verify is dropped and counted, never summed.
 *
 * <p>The construction is hash-then-PRF, as UMAC and VMAC build theirs: the payload goes through NH, UMAC's
 * universal hash (Black, Halevi, Krawczyk, Krovetz &amp; Rogaway, "UMAC: fast and secure message authentication",
 * 1999; RFC 4418), twice with Toeplitz-shifted keys (collision probability 2^-64 for two payloads of one length);
 * then SipHash-2-4 (Aumasson &amp; Bernstein 2012), a keyed PRF, maps the header, the payload's length and the two
 * 64-bit NH sums to the 64-bit tag. A forger who does not hold the token succeeds with probability about 2^-64 per
 * attempt, and every attempt is counted.
 *
 * <p>Why this and not a MAC from the JDK: it has to cost little of a step, and every value crosses a rank's MAC
 * twice (tagged when sent, verified when received: ~6.5 MB a step for nanoGPT's CPU model on two workers). One core
 * of this machine (AMD EPYC, JDK 17; {@code ringformer bench mac}, medians): NH + SipHash ~22–25 GB/s with NH on
 * the Vector API ({@link VectorNh}; 5–8 GB/s in plain loops), SipHash-2-4 over the whole frame ~2–3 GB/s, the JDK's
 * HmacSHA256 (SHA-NI) ~1.6 GB/s, AES-GMAC through {@code AES/GCM} ~0.6 GB/s (JDK 17 has no fused AES-GCM
 * intrinsic), ChaCha20-Poly1305 ~0.6 GB/s (Poly1305 is not intrinsified before JDK 21).
 *
 * <p>The tag covers the frame's header up to the tag field and the whole payload, so no field can be changed. It
 * reads memory directly (the frame sits in an Aeron log buffer), eight bytes at a time, little-endian.
 *
 * <p>Not thread-safe: a ring takes its own {@link #copy()}.
 */
public final class FrameMac {

    private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
    private static final long BYTE_ARRAY_BASE = UnsafeApi.arrayBaseOffset(byte[].class);
    private static final long MASK32 = 0xFFFF_FFFFL;
    private static final int TOEPLITZ_SHIFT = 2;            // the second key starts four 32-bit words later

    private final long k0;
    private final long k1;
    private final long nhSeed0;
    private final long nhSeed1;
    private long[] nhKey = new long[0];                     // grown on demand; SipHash of the word index
    private final long[] state = new long[4];               // SipHash's v0…v3
    private final long[] sums = new long[2];                // the two NH sums
    private final boolean vector;                           // NH with the Vector API

    /** A MAC under the 128-bit key {@code (k0, k1)} (little-endian halves, as SipHash's reference code reads it). */
    public FrameMac(long k0, long k1) {
        this(k0, k1, ~k0, ~k1, VectorKernels.isAvailable());
    }

    private FrameMac(long k0, long k1, long nhSeed0, long nhSeed1, boolean vector) {
        this.vector = vector;
        this.k0 = k0;
        this.k1 = k1;
        this.nhSeed0 = nhSeed0;
        this.nhSeed1 = nhSeed1;
    }

    /**
     * The key of a job: SHA-256("ringformer frame MAC v1", token); its first 16 bytes key the PRF, the next 16 the
     * generator of NH's key.
     */
    public static FrameMac ofToken(String jobToken) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update("ringformer frame MAC v1\0".getBytes(StandardCharsets.UTF_8));
            byte[] digest = sha.digest(jobToken.getBytes(StandardCharsets.UTF_8));
            return new FrameMac(littleEndian(digest, 0), littleEndian(digest, 8), littleEndian(digest, 16),
                    littleEndian(digest, 24), VectorKernels.isAvailable());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    private static long littleEndian(byte[] bytes, int at) {
        long value = 0;
        for (int i = 7; i >= 0; i--) {
            value = value << 8 | (bytes[at + i] & 0xFFL);
        }
        return value;
    }

    /**
     * The tag of the frame at {@code at} in {@code buffer}: {@code head} bytes of header (a multiple of 8), then,
     * {@code gap} bytes further on (the tag field), a payload of {@code tail} bytes.
     */
    public long frameTag(DirectBuffer buffer, int at, int head, int gap, int tail) {
        Object base = buffer.byteArray();
        long address = buffer.addressOffset() + at;
        int words = tail >>> 3;
        long[] key = nhKey(words + 1 + TOEPLITZ_SHIFT);
        sums[0] = 0;
        sums[1] = 0;
        int done = 0;
        if (vector) {                                          // whole vectors of words, where memory allows
            int bulk = words - words % VectorNh.lanes();
            int payload = at + head + gap;
            ByteBuffer direct = buffer.byteBuffer();
            if (base instanceof byte[] array) {
                VectorNh.hash(array, (int) (buffer.addressOffset() - BYTE_ARRAY_BASE) + payload, bulk, key,
                        TOEPLITZ_SHIFT, sums);
                done = bulk;
            } else if (direct != null && direct.isDirect()) {
                VectorNh.hash(direct, buffer.wrapAdjustment() + payload, bulk, key, TOEPLITZ_SHIFT, sums);
                done = bulk;
            }
        }
        long payload = address + head + gap;
        long a = sums[0];
        long b = sums[1];
        for (int i = done; i <= words; i++) {                  // the rest, and the last partial word zero-padded
            long m;
            if (i < words) {
                m = word(base, payload + 8L * i);
            } else if ((tail & 7) != 0) {
                m = 0;
                for (int j = 0; j < (tail & 7); j++) {
                    m |= (UnsafeApi.getByte(base, payload + 8L * words + j) & 0xFFL) << (8 * j);
                }
            } else {
                break;
            }
            long lo = m & MASK32;
            long hi = m >>> 32;
            long ka = key[i];
            long kb = key[i + TOEPLITZ_SHIFT];
            a += ((lo + (ka & MASK32)) & MASK32) * ((hi + (ka >>> 32)) & MASK32);
            b += ((lo + (kb & MASK32)) & MASK32) * ((hi + (kb >>> 32)) & MASK32);
        }
        return prf(base, address, head, tail, a, b);
    }

    /** The same keys, for another thread. */
    public FrameMac copy() {
        return new FrameMac(k0, k1, nhSeed0, nhSeed1, vector);
    }

    /** The same keys, with NH in plain loops (to check the vector code against). */
    FrameMac scalar() {
        return new FrameMac(k0, k1, nhSeed0, nhSeed1, false);
    }

    /** NH's key: at least {@code words} 64-bit words, SipHash (under the NH seed) of each index. */
    private long[] nhKey(int words) {
        if (nhKey.length < words) {
            long[] grown = new long[Math.max(words, 2 * nhKey.length)];
            FrameMac generator = new FrameMac(nhSeed0, nhSeed1, 0, 0, false);
            byte[] index = new byte[8];
            for (int i = 0; i < grown.length; i++) {
                for (int b = 0; b < 8; b++) {
                    index[b] = (byte) (i >>> (8 * b));
                }
                grown[i] = generator.sipHash(index);
            }
            nhKey = grown;
        }
        return nhKey;
    }

    /** SipHash-2-4 of a whole byte array under this MAC's PRF key (the paper's test vectors check it). */
    public long sipHash(byte[] message) {
        return sipHash(message, BYTE_ARRAY_BASE, message.length, false, 0, 0, 0);
    }

    /** The PRF over the header, the payload's length and the two NH sums. */
    private long prf(Object base, long address, int head, int tail, long a, long b) {
        return sipHash(base, address, head, true, tail, a, b);
    }

    /**
     * SipHash-2-4 of {@code length} bytes at {@code address}; with {@code extra} ({@code length} then a multiple of
     * 8), the words {@code x}, {@code y} and {@code z} follow them as three more little-endian message words.
     */
    private long sipHash(Object base, long address, int length, boolean extra, long x, long y, long z) {
        long[] v = state;
        v[0] = k0 ^ 0x736f_6d65_7073_6575L;
        v[1] = k1 ^ 0x646f_7261_6e64_6f6dL;
        v[2] = k0 ^ 0x6c79_6765_6e65_7261L;
        v[3] = k1 ^ 0x7465_6462_7974_6573L;
        int memoryWords = length >>> 3;
        int words = memoryWords + (extra ? 3 : 0);
        for (int w = 0; w < words; w++) {
            int e = w - memoryWords;
            compress(v, e < 0 ? word(base, address + 8L * w) : e == 0 ? x : e == 1 ? y : z, 2);
        }
        long last = (long) (length + (extra ? 24 : 0)) << 56;
        for (int i = 0; i < (length & 7); i++) {
            last |= (UnsafeApi.getByte(base, address + 8L * memoryWords + i) & 0xFFL) << (8 * i);
        }
        compress(v, last, 2);
        v[2] ^= 0xFF;
        compress(v, 0, 4);
        return v[0] ^ v[1] ^ v[2] ^ v[3];
    }

    /** Absorbs message word {@code m} with {@code rounds} SipRounds (4 and m = 0: the finalization). */
    private static void compress(long[] v, long m, int rounds) {
        long v0 = v[0];
        long v1 = v[1];
        long v2 = v[2];
        long v3 = v[3] ^ m;
        for (int round = 0; round < rounds; round++) {
            v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
            v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
        }
        v[0] = v0 ^ m;
        v[1] = v1;
        v[2] = v2;
        v[3] = v3;
    }

    private static long word(Object base, long at) {
        long m = UnsafeApi.getLong(base, at);
        return LITTLE_ENDIAN ? m : Long.reverseBytes(m);
    }
}
