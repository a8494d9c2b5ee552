package io.ringformer.worker.exchange;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * The layout of one {@link RingAllReduce} frame: a 64-byte header, then {@code count} values in the ring's
 * {@link Wire} format. Every field is little-endian. Each frame is one unfragmented Aeron message, so it is never
 * longer than the publication's {@code maxPayloadLength()}.
 *
 * <pre>
 *  offset size field
 *   0     4    magic        0x52464152 ("RFAR")
 *   4     1    wire         {@link Wire#ordinal()} of the payload
 *   5     1    phase        0 = reduce-scatter, 1 = all-gather
 *   6     2    (zero)
 *   8     8    job          {@link #jobHash(String)} of the job id
 *  16     8    generation   the membership generation the ring was formed in
 *  24     8    step         the caller's step (training steps ≥ 0, evaluations negative)
 *  32     4    round        how many all-reduces this ring ran before this one (orders the caller's steps)
 *  36     4    index        ring step within the phase, 0 … P−2
 *  40     4    offset       index in the caller's buffer of the first value
 *  44     4    count        values in this frame
 *  48     4    length       length of the caller's buffer (every rank must pass the same)
 *  52     4    (zero)
 *  56     8    tag          {@link FrameMac} of bytes 0–55 and the payload (0 on a ring without a MAC)
 *  64     …    payload      count × wire.bytesPerElement()
 * </pre>
 */
public final class RingFrame {

    public static final int MAGIC = 0x5246_4152;
    public static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    public static final int MAGIC_OFFSET = 0;
    public static final int WIRE_OFFSET = 4;
    public static final int PHASE_OFFSET = 5;
    public static final int JOB_OFFSET = 8;
    public static final int GENERATION_OFFSET = 16;
    public static final int STEP_OFFSET = 24;
    public static final int ROUND_OFFSET = 32;
    public static final int INDEX_OFFSET = 36;
    public static final int CHUNK_OFFSET_OFFSET = 40;
    public static final int COUNT_OFFSET = 44;
    public static final int LENGTH_OFFSET = 48;
    public static final int TAG_OFFSET = 56;
    public static final int HEADER_LENGTH = 64;

    public static final byte REDUCE_SCATTER = 0;
    public static final byte ALL_GATHER = 1;

    private RingFrame() {}

    /** A 64-bit FNV-1a hash of the job id's UTF-8 bytes: the same in every JVM. */
    public static long jobHash(String jobId) {
        long hash = 0xcbf2_9ce4_8422_2325L;
        for (byte b : jobId.getBytes(StandardCharsets.UTF_8)) {
            hash ^= b & 0xFF;
            hash *= 0x0000_0100_0000_01B3L;
        }
        return hash;
    }

    /** Writes a header at {@code at}; the payload follows at {@code at + HEADER_LENGTH}. */
    public static void writeHeader(MutableDirectBuffer buffer, int at, Wire wire, byte phase, long job,
            long generation, long step, int round, int index, int chunkOffset, int count, int length) {
        buffer.putInt(at + MAGIC_OFFSET, MAGIC, ORDER);
        buffer.putByte(at + WIRE_OFFSET, (byte) wire.ordinal());
        buffer.putByte(at + PHASE_OFFSET, phase);
        buffer.putShort(at + PHASE_OFFSET + 1, (short) 0, ORDER);
        buffer.putLong(at + JOB_OFFSET, job, ORDER);
        buffer.putLong(at + GENERATION_OFFSET, generation, ORDER);
        buffer.putLong(at + STEP_OFFSET, step, ORDER);
        buffer.putInt(at + ROUND_OFFSET, round, ORDER);
        buffer.putInt(at + INDEX_OFFSET, index, ORDER);
        buffer.putInt(at + CHUNK_OFFSET_OFFSET, chunkOffset, ORDER);
        buffer.putInt(at + COUNT_OFFSET, count, ORDER);
        buffer.putInt(at + LENGTH_OFFSET, length, ORDER);
        buffer.putInt(at + LENGTH_OFFSET + 4, 0, ORDER);
    }

    public static long tag(DirectBuffer buffer, int at) {
        return buffer.getLong(at + TAG_OFFSET, ORDER);
    }

    /** The tag {@code mac} gives the frame of {@code frameLength} bytes at {@code at}. */
    public static long computeTag(FrameMac mac, DirectBuffer buffer, int at, int frameLength) {
        return mac.frameTag(buffer, at, TAG_OFFSET, HEADER_LENGTH - TAG_OFFSET,
                frameLength - HEADER_LENGTH);
    }

    public static int magic(DirectBuffer buffer, int at) {
        return buffer.getInt(at + MAGIC_OFFSET, ORDER);
    }

    public static int wire(DirectBuffer buffer, int at) {
        return buffer.getByte(at + WIRE_OFFSET);
    }

    public static byte phase(DirectBuffer buffer, int at) {
        return buffer.getByte(at + PHASE_OFFSET);
    }

    public static long job(DirectBuffer buffer, int at) {
        return buffer.getLong(at + JOB_OFFSET, ORDER);
    }

    public static long generation(DirectBuffer buffer, int at) {
        return buffer.getLong(at + GENERATION_OFFSET, ORDER);
    }

    public static long step(DirectBuffer buffer, int at) {
        return buffer.getLong(at + STEP_OFFSET, ORDER);
    }

    public static int round(DirectBuffer buffer, int at) {
        return buffer.getInt(at + ROUND_OFFSET, ORDER);
    }

    public static int index(DirectBuffer buffer, int at) {
        return buffer.getInt(at + INDEX_OFFSET, ORDER);
    }

    public static int chunkOffset(DirectBuffer buffer, int at) {
        return buffer.getInt(at + CHUNK_OFFSET_OFFSET, ORDER);
    }

    public static int count(DirectBuffer buffer, int at) {
        return buffer.getInt(at + COUNT_OFFSET, ORDER);
    }

    public static int length(DirectBuffer buffer, int at) {
        return buffer.getInt(at + LENGTH_OFFSET, ORDER);
    }
}
