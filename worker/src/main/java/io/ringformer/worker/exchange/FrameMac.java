package io.ringformer.worker.exchange;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.agrona.UnsafeApi;

/**
 * The message authentication code on every ring frame: SipHash-2-4 (Aumasson &amp; Bernstein, "SipHash: a fast
 * short-input PRF", 2012), a 64-bit tag under a 128-bit key derived from the job token, so that only holders of
 * the token can put values into a job's all-reduce. A frame whose tag does not verify is dropped and counted, never
 * summed.
 *
 * <p>Why SipHash: it had to cost at most a few percent of a step, and every value crosses a rank's MAC twice (sent
 * and received, ~6.4 MB a step for nanoGPT's CPU model on two workers). Measured on one core of this machine (AMD
 * EPYC, JDK 17, {@code ringformer bench mac}): this SipHash ~2.5–3 GB/s, the JDK's HmacSHA256 (SHA-NI intrinsic)
 * ~1.2 GB/s, AES-GMAC through {@code AES/GCM} ~0.9 GB/s (JDK 17 has no fused AES-GCM intrinsic), ChaCha20-Poly1305
 * ~0.4 GB/s (Poly1305 is not intrinsified before JDK 21). A 64-bit tag leaves a forger one chance in 2^64 per frame
 * and every forged frame is counted.
 *
 * <p>The tag covers the frame's header up to the tag field and the whole payload, so no field can be changed. It
 * reads memory directly (the frame sits in an Aeron log buffer), eight bytes at a time, little-endian.
 */
public final class FrameMac {

    private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
    private static final long BYTE_ARRAY_BASE = UnsafeApi.arrayBaseOffset(byte[].class);

    private final long k0;
    private final long k1;

    /** A MAC under the 128-bit key {@code (k0, k1)} (little-endian halves, as SipHash's reference code reads it). */
    public FrameMac(long k0, long k1) {
        this.k0 = k0;
        this.k1 = k1;
    }

    /** The key of a job: the first 16 bytes of SHA-256("ringformer frame MAC v1", token). */
    public static FrameMac ofToken(String jobToken) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update("ringformer frame MAC v1\0".getBytes(StandardCharsets.UTF_8));
            byte[] digest = sha.digest(jobToken.getBytes(StandardCharsets.UTF_8));
            long k0 = 0;
            long k1 = 0;
            for (int i = 7; i >= 0; i--) {
                k0 = k0 << 8 | (digest[i] & 0xFFL);
                k1 = k1 << 8 | (digest[8 + i] & 0xFFL);
            }
            return new FrameMac(k0, k1);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    /** The tag of a whole byte array (the reference test vectors use this). */
    public long tag(byte[] message) {
        return tag(message, BYTE_ARRAY_BASE, 0, 0, message.length);
    }

    /**
     * The tag of {@code head} bytes at {@code address}, then {@code tail} bytes {@code gap} bytes further on (the
     * gap, e.g. the tag field itself, is skipped). {@code head} must be a multiple of 8.
     *
     * @param base    the array the address is relative to, or null for native memory (Agrona's
     *                {@code byteArray()} and {@code addressOffset()})
     */
    public long tag(Object base, long address, int head, int gap, int tail) {
        long v0 = k0 ^ 0x736f_6d65_7073_6575L;
        long v1 = k1 ^ 0x646f_7261_6e64_6f6dL;
        long v2 = k0 ^ 0x6c79_6765_6e65_7261L;
        long v3 = k1 ^ 0x7465_6462_7974_6573L;
        long at = address;
        long end = address + head;
        for (int pass = 0; pass < 2; pass++) {
            for (; at + 8 <= end; at += 8) {
                long m = word(base, at);
                v3 ^= m;
                // two SipRounds
                v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
                v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
                v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
                v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
                v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
                v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
                v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
                v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
                v0 ^= m;
            }
            if (pass == 0) {
                at = address + head + gap;
                end = at + tail;
            }
        }
        long last = (long) (head + tail) << 56;
        for (int i = 0; at + i < end; i++) {
            last |= (UnsafeApi.getByte(base, at + i) & 0xFFL) << (8 * i);
        }
        v3 ^= last;
        for (int round = 0; round < 2; round++) {
            v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
            v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
        }
        v0 ^= last;
        v2 ^= 0xFF;
        for (int round = 0; round < 4; round++) {
            v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
            v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
        }
        return v0 ^ v1 ^ v2 ^ v3;
    }

    private static long word(Object base, long at) {
        long m = UnsafeApi.getLong(base, at);
        return LITTLE_ENDIAN ? m : Long.reverseBytes(m);
    }
}
