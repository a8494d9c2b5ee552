package io.ringformer.worker.exchange;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * The frame MAC: its PRF (SipHash-2-4) against the reference vectors of Aumasson &amp; Bernstein's paper, and the
 * whole tag's coverage of every bit of a frame outside the tag field, of its length and of its key.
 */
class FrameMacTest {

    /** The paper's key 00 01 … 0f. */
    private static final FrameMac REFERENCE = new FrameMac(0x0706050403020100L, 0x0f0e0d0c0b0a0908L);

    private static byte[] counting(int length) {
        byte[] message = new byte[length];
        for (int i = 0; i < length; i++) {
            message[i] = (byte) i;
        }
        return message;
    }

    @Test
    void itsPrfMatchesThePapersVectors() {
        assertEquals(0x726fdb47dd0e0e31L, REFERENCE.sipHash(counting(0)));       // the first of the 64 vectors
        assertEquals(0xa129ca6149be45e5L, REFERENCE.sipHash(counting(15)));      // Appendix A's worked example
    }

    private static UnsafeBuffer frame(int payloadBytes, long seed) {
        UnsafeBuffer frame = new UnsafeBuffer(new byte[RingFrame.HEADER_LENGTH + payloadBytes]);
        RingFrame.writeHeader(frame, 0, Wire.FP32, RingFrame.ALL_GATHER, 1, 2, 3, 4, 0, 8, payloadBytes / 4, 100);
        Random random = new Random(seed);
        for (int i = RingFrame.HEADER_LENGTH; i < frame.capacity(); i++) {
            frame.putByte(i, (byte) random.nextInt());
        }
        return frame;
    }

    @Test
    void everyBitOfAFrameOutsideTheTagFieldChangesTheTag() {
        FrameMac mac = FrameMac.ofToken("token");
        for (int payload : new int[] {0, 2, 40, 1022, 8128}) {
            UnsafeBuffer frame = frame(payload, payload);
            long tag = RingFrame.computeTag(mac, frame, 0, frame.capacity());
            assertEquals(tag, RingFrame.computeTag(mac, frame, 0, frame.capacity()), "deterministic");
            for (int bit = 0; bit < 8 * frame.capacity(); bit += payload > 1000 ? 7 : 1) {
                int at = bit / 8;
                frame.putByte(at, (byte) (frame.getByte(at) ^ (1 << (bit % 8))));
                long flipped = RingFrame.computeTag(mac, frame, 0, frame.capacity());
                if (at >= RingFrame.TAG_OFFSET && at < RingFrame.HEADER_LENGTH) {
                    assertEquals(tag, flipped, "the tag field is not covered by itself");
                } else {
                    assertNotEquals(tag, flipped, "payload " + payload + ", bit " + bit);
                }
                frame.putByte(at, (byte) (frame.getByte(at) ^ (1 << (bit % 8))));
            }
            assertNotEquals(tag, RingFrame.computeTag(FrameMac.ofToken("another token"), frame, 0,
                    frame.capacity()));
        }
    }

    @Test
    void aPayloadPaddedWithZerosHasAnotherTag() {
        FrameMac mac = FrameMac.ofToken("token");
        UnsafeBuffer frame = frame(64, 1);
        Set<Long> tags = new HashSet<>();
        for (int length = RingFrame.HEADER_LENGTH; length <= frame.capacity(); length += 2) {
            if (length > RingFrame.HEADER_LENGTH + 40) {
                frame.putShort(length - 2, (short) 0);                 // the same bytes, padded with zeros
            }
            tags.add(RingFrame.computeTag(mac, frame, 0, length));
        }
        assertEquals(33, tags.size());
    }

    /** The Vector API's NH sums equal the plain loop's, on heap frames and on frames in direct memory (Aeron's). */
    @Test
    void theVectorPathGivesTheScalarPathsTags() {
        FrameMac vector = FrameMac.ofToken("token");
        FrameMac scalar = vector.scalar();
        for (int payload = 0; payload <= 1100; payload += payload < 140 ? 2 : 97) {
            UnsafeBuffer heap = frame(payload, payload);
            UnsafeBuffer direct = new UnsafeBuffer(java.nio.ByteBuffer.allocateDirect(heap.capacity() + 24), 8,
                    heap.capacity());                          // wrapped at an offset, as Aeron's term buffers are
            direct.putBytes(0, heap, 0, heap.capacity());
            long expected = RingFrame.computeTag(scalar, heap, 0, heap.capacity());
            assertEquals(expected, RingFrame.computeTag(vector, heap, 0, heap.capacity()), "heap, payload " + payload);
            assertEquals(expected, RingFrame.computeTag(vector, direct, 0, direct.capacity()),
                    "direct, payload " + payload);
            assertEquals(expected, RingFrame.computeTag(scalar, direct, 0, direct.capacity()));
        }
    }
}
