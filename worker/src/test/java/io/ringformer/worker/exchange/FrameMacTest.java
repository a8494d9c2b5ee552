package io.ringformer.worker.exchange;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.Random;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** SipHash-2-4 against the reference vectors of Aumasson &amp; Bernstein's paper, and the frame's coverage. */
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
    void matchesThePapersVectors() {
        assertEquals(0x726fdb47dd0e0e31L, REFERENCE.tag(counting(0)));       // the first of the 64 vectors
        assertEquals(0xa129ca6149be45e5L, REFERENCE.tag(counting(15)));      // Appendix A's worked example
    }

    @Test
    void aSplitMessageHasTheTagOfTheWholeWithTheGapSkipped() {
        Random random = new Random(3);
        for (int trial = 0; trial < 200; trial++) {
            int head = 8 * random.nextInt(8);
            int gap = random.nextInt(16);
            int tail = random.nextInt(300);
            byte[] split = new byte[head + gap + tail];
            random.nextBytes(split);
            byte[] whole = new byte[head + tail];
            System.arraycopy(split, 0, whole, 0, head);
            System.arraycopy(split, head + gap, whole, head, tail);
            UnsafeBuffer buffer = new UnsafeBuffer(split);
            assertEquals(REFERENCE.tag(whole), REFERENCE.tag(buffer.byteArray(), buffer.addressOffset(), head, gap,
                    tail), "head " + head + ", gap " + gap + ", tail " + tail);
        }
    }

    @Test
    void everyBitOfAFrameOutsideTheTagFieldChangesTheTag() {
        FrameMac mac = FrameMac.ofToken("token");
        UnsafeBuffer frame = new UnsafeBuffer(new byte[RingFrame.HEADER_LENGTH + 40]);
        RingFrame.writeHeader(frame, 0, Wire.FP32, RingFrame.ALL_GATHER, 1, 2, 3, 4, 0, 8, 10, 100);
        long tag = RingFrame.computeTag(mac, frame, 0, frame.capacity());
        for (int bit = 0; bit < 8 * frame.capacity(); bit++) {
            int at = bit / 8;
            frame.putByte(at, (byte) (frame.getByte(at) ^ (1 << (bit % 8))));
            long flipped = RingFrame.computeTag(mac, frame, 0, frame.capacity());
            if (at >= RingFrame.TAG_OFFSET && at < RingFrame.HEADER_LENGTH) {
                assertEquals(tag, flipped, "the tag field is not covered by itself");
            } else {
                assertNotEquals(tag, flipped, "bit " + bit);
            }
            frame.putByte(at, (byte) (frame.getByte(at) ^ (1 << (bit % 8))));
        }
        assertNotEquals(tag, RingFrame.computeTag(FrameMac.ofToken("another token"), frame, 0, frame.capacity()));
    }
}
