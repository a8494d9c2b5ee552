package io.ringformer.worker.exchange;

import io.aeron.Aeron;
import io.aeron.ChannelUri;
import io.aeron.ExclusivePublication;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.BufferClaim;
import io.aeron.logbuffer.ControlledFragmentHandler;
import io.aeron.logbuffer.FrameDescriptor;
import io.aeron.logbuffer.Header;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

/**
 * Ring all-reduce over Aeron among P ranks (Patarasuk &amp; Yuan 2009, as Baidu's allreduce and Horovod run it):
 * every rank ends with the element-wise sum of all ranks' buffers, bit-identical on every rank, after sending
 * and receiving 2(P−1)/P of the buffer.
 *
 * <h2>Wiring</h2>
 * Rank r owns one {@link Inbox} (a subscription on its own endpoint: UDP {@code aeron:udp?endpoint=host:0},
 * resolved to the port the OS chose, or IPC {@code aeron:ipc?alias=inbox-<stream>} on a stream of its own when every rank shares one media
 * driver) and one exclusive publication to the inbox of its right neighbour r+1 mod P. Frames only ever flow
 * left to right. The endpoints, ordered by rank, come from the rendezvous (ZooKeeper).
 *
 * <h2>One all-reduce, step by step</h2>
 * <ol>
 *   <li>The buffer of n values is cut into P contiguous segments; segment i holds ⌊n/P⌋ values, plus one for the
 *       first n mod P segments. When n &lt; P some segments are empty: steps over them send and expect nothing.</li>
 *   <li>The ring runs 2(P−1) steps t = 0 … 2P−3. At step t rank r sends segment (r−t) mod P to its right and
 *       receives segment (r−t−1) mod P from its left. What it sends at step t &gt; 0 is exactly what it received
 *       at step t−1.</li>
 *   <li>Reduce-scatter, t = 0 … P−2: rank r adds each received value into its own buffer (fp32). After P−1 steps
 *       rank r holds the complete sum of segment (r+1) mod P, summed in rank order r+1, r+2, …, r+P (mod P)
 *       around the ring.</li>
 *   <li>All-gather, t = P−1 … 2P−3: each rank sends on its complete segment; received values overwrite the
 *       buffer. After P−1 more steps every rank holds every complete segment. With a 16-bit {@link Wire} the
 *       owner rounds its own complete segment to the wire format when it first sends it, so that every rank
 *       holds the same bits.</li>
 *   <li>Each segment travels as chunks of at most {@code maxPayloadLength()} bytes (header included), written
 *       into the log buffer in place with {@code tryClaim}. Steps are pipelined chunk by chunk: as soon as the
 *       first values of step t−1 have arrived, the matching values of step t can leave. A chunk is sent once a
 *       full chunk's worth (or the segment's remainder) is available, so ranks with different MTUs still agree:
 *       the receiver tracks values, not chunks.</li>
 *   <li>Sending and polling run interleaved in one duty cycle ({@link Agent#doWork()} returning a work count,
 *       idling on a {@link BackoffIdleStrategy} when there is none): a rank whose publication is back-pressured
 *       keeps draining its inbox, so the ring cannot deadlock on full buffers.</li>
 *   <li>The call returns when everything has been received and sent (the log buffer holds its own copy of what
 *       was sent, so the caller may reuse its array at once), or throws {@link ExchangeTimeoutException} when
 *       that has not happened within {@code timeoutMs}. After a timeout the exchange is finished: the survivors
 *       re-form the ring at a new generation.</li>
 *   <li>A ring is abandoned as soon as a newer generation exists: the duty cycle reads the newest generation this
 *       rank knows of (set by its ZooKeeper watch) and throws {@link GenerationChangedException} — unless the
 *       all-reduce has already completed, which then counts. No rank waits for the timeout when a peer dies.</li>
 * </ol>
 *
 * <h2>Which frames count</h2>
 * Every frame carries the job, generation, step and round (a count of this ring's all-reduces, which orders the
 * caller's steps even though evaluation steps are negative); see {@link RingFrame}. A frame of another job, another
 * generation or an earlier round, with another step in this round, of another wire format or buffer length, or
 * that is not the very next frame this rank expects, is dropped and counted ({@link #droppedFrames()}), never
 * summed. Aeron delivers the frames of one publication in the order they were written, and the left neighbour
 * writes them in exactly the order this rank consumes them (step by step, values in ascending order), so the
 * frames of the legitimate stream always arrive in order: frames of the next phase queue behind the current
 * phase's in the same stream and need no reordering. The one frame that can arrive "early" is one of the
 * neighbour's <em>next</em> round (it finished this round before we did): such a frame is left in the log
 * ({@code ABORT}) and read again when the caller starts the next round; flow control holds the neighbour back
 * meanwhile. Frames of a <em>newer</em> generation are left in the log too: they come from a neighbour that learnt
 * of the new generation first, and are read by this rank's ring of that generation. Frames from other
 * publications (strays, old generations) arrive as other images of the same subscription, are polled alongside
 * and dropped.
 *
 * <p>Not thread-safe: one thread calls {@link #allReduce}. {@link #droppedFrames()} may be read from any thread.
 */
public final class RingAllReduce implements GradientExchange {

    /** The Aeron stream every ring inbox listens on. */
    public static final int STREAM_ID = 0x5246;

    private static final String INBOX_ALIAS = "inbox-";

    private static final int FRAGMENT_LIMIT = 64;
    private static final int CHUNKS_PER_CYCLE = 16;
    private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
    private static final long FLOAT_BASE = UnsafeApi.arrayBaseOffset(float[].class);
    private static final long SHORT_BASE = UnsafeApi.arrayBaseOffset(short[].class);

    /**
     * Everything a rank needs to join a ring, validated here.
     *
     * @param jobId      the job this ring serves; frames carry its {@link RingFrame#jobHash(String) hash}
     * @param generation the membership generation; frames of other generations are dropped
     * @param rank       this rank, 0 … worldSize−1
     * @param worldSize  P
     * @param endpoints  every rank's {@link Inbox#endpoint()}, ordered by rank
     * @param timeoutMs  the most one {@link #allReduce} may take
     * @param wire       the format of values on the wire (sums are always fp32)
     * @param mac        the code every frame carries and every received frame must verify under, or null for
     *                   none (benchmarks, tests of the ring alone)
     */
    public record Config(String jobId, long generation, int rank, int worldSize, List<String> endpoints,
            long timeoutMs, Wire wire, FrameMac mac) {

        public Config(String jobId, long generation, int rank, int worldSize, List<String> endpoints, long timeoutMs,
                      Wire wire) {
            this(jobId, generation, rank, worldSize, endpoints, timeoutMs, wire, null);
        }

        public Config {
            Objects.requireNonNull(jobId, "jobId");
            Objects.requireNonNull(wire, "wire");
            endpoints = List.copyOf(endpoints);
            if (jobId.isBlank()) {
                throw new IllegalArgumentException("jobId is blank");
            }
            if (worldSize < 1 || rank < 0 || rank >= worldSize) {
                throw new IllegalArgumentException("rank " + rank + " is not in a world of " + worldSize);
            }
            if (endpoints.size() != worldSize) {
                throw new IllegalArgumentException(
                        endpoints.size() + " endpoints for a world of " + worldSize + ": " + endpoints);
            }
            if (timeoutMs <= 0) {
                throw new IllegalArgumentException("timeoutMs must be positive: " + timeoutMs);
            }
        }

        int left() {
            return (rank + worldSize - 1) % worldSize;
        }

        int right() {
            return (rank + 1) % worldSize;
        }
    }

    /**
     * The receiving end of one rank: a subscription on its own endpoint, opened before the rendezvous so that its
     * {@link #endpoint()} (with the port the OS chose) can be published. It outlives rings: when the membership
     * changes, the next generation's ring reuses it, and frames left over from the old one are dropped.
     */
    public static final class Inbox implements AutoCloseable {

        private static final long RESOLVE_TIMEOUT_MS = 10_000;

        private final Subscription subscription;
        private final String endpoint;

        private Inbox(Subscription subscription, String endpoint) {
            this.subscription = subscription;
            this.endpoint = endpoint;
        }

        /**
         * Subscribes on {@code channel}: {@code aeron:udp?endpoint=<host>:0} (port 0 lets the OS choose; the host
         * must be an address the peers can reach, not 0.0.0.0, since the endpoint is what they publish to) or
         * {@code aeron:ipc}, on a random stream of its own, so that each rank of a shared driver gets its own
         * inbox; the endpoint names that stream as {@code aeron:ipc?alias=inbox-<stream>} ({@link #streamOf}).
         * A stream rather than a session id tells the inboxes apart because every publication then gets a session
         * of its own: a session id chosen by the receiver would clash, for as long as the driver keeps it, with the
         * publication of a sender that died.
         */
        public static Inbox open(Aeron aeron, String channel) {
            ChannelUri uri = ChannelUri.parse(channel);
            int stream = STREAM_ID;
            if (uri.isIpc()) {
                stream = ThreadLocalRandom.current().nextInt(STREAM_ID + 1, Integer.MAX_VALUE);
                channel = "aeron:ipc?alias=" + INBOX_ALIAS + stream;
            }
            Subscription subscription = aeron.addSubscription(channel, stream);
            String endpoint = uri.isUdp() ? resolve(subscription) : channel;
            return new Inbox(subscription, endpoint);
        }

        /** The stream an inbox listens on, from its endpoint. */
        public static int streamOf(String endpoint) {
            int at = endpoint.indexOf("alias=" + INBOX_ALIAS);
            if (at < 0) {
                return STREAM_ID;
            }
            int from = at + "alias=".length() + INBOX_ALIAS.length();
            int to = from;
            while (to < endpoint.length() && Character.isDigit(endpoint.charAt(to))) {
                to++;
            }
            return Integer.parseInt(endpoint.substring(from, to));
        }

        private static String resolve(Subscription subscription) {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RESOLVE_TIMEOUT_MS);
            IdleStrategy idle = new BackoffIdleStrategy(10, 10, 1_000, 1_000_000);
            while (true) {
                String resolved = subscription.tryResolveChannelEndpointPort();
                if (resolved != null) {
                    return resolved;
                }
                if (System.nanoTime() - deadline > 0) {
                    subscription.close();
                    throw new IllegalStateException("the media driver did not bind " + subscription.channel()
                            + " within " + RESOLVE_TIMEOUT_MS + " ms");
                }
                idle.idle(0);
            }
        }

        /** The channel the left neighbour publishes to, e.g. {@code aeron:udp?endpoint=127.0.0.1:40123}. */
        public String endpoint() {
            return endpoint;
        }

        public Subscription subscription() {
            return subscription;
        }

        @Override
        public void close() {
            subscription.close();
        }
    }

    private final Config config;
    private final Inbox inbox;
    private final ExclusivePublication publication;
    private final Round round;
    private final IdleStrategy idle = new BackoffIdleStrategy(100, 100, 1_000, 200_000);
    private final LongSupplier newestGeneration;
    private final boolean ownsPublication;
    private boolean finished;

    /**
     * Joins a ring: publishes to the right neighbour's endpoint. Does not wait for it; the first
     * {@link #allReduce} does, within its time limit. The inbox stays the caller's to close.
     *
     * @param inbox this rank's inbox; its endpoint must be {@code config.endpoints().get(config.rank())}
     *              (may be null in a world of one)
     */
    public RingAllReduce(Aeron aeron, Inbox inbox, Config config) {
        this(aeron, inbox, config, config::generation);
    }

    /**
     * As above; the ring is abandoned ({@link GenerationChangedException}) once {@code newestGeneration} reports a
     * number above {@code config.generation()}. It is read on every duty cycle, from the calling thread.
     */
    public RingAllReduce(Aeron aeron, Inbox inbox, Config config, LongSupplier newestGeneration) {
        this(aeron, inbox, config, newestGeneration, null);
    }

    /**
     * As above, publishing through {@code toRight} (an exclusive publication to the right neighbour's endpoint that
     * the caller keeps across rings, and closes) instead of a publication of its own: with IPC the inbox's
     * session id names the stream, and a new publication to it would clash with the old one while that lingers.
     */
    public RingAllReduce(Aeron aeron, Inbox inbox, Config config, LongSupplier newestGeneration,
                         ExclusivePublication toRight) {
        this.config = config;
        this.inbox = inbox;
        this.newestGeneration = Objects.requireNonNull(newestGeneration, "newestGeneration");
        this.ownsPublication = toRight == null;
        if (config.worldSize() == 1) {
            this.publication = null;
            this.round = null;
            return;
        }
        Objects.requireNonNull(inbox, "inbox");
        if (!inbox.endpoint().equals(config.endpoints().get(config.rank()))) {
            throw new IllegalArgumentException("rank " + config.rank() + "'s inbox is " + inbox.endpoint()
                    + " but the endpoints list says " + config.endpoints().get(config.rank()));
        }
        this.publication = toRight != null ? toRight
                : aeron.addExclusivePublication(config.endpoints().get(config.right()),
                        Inbox.streamOf(config.endpoints().get(config.right())));
        int chunkBytes = publication.maxPayloadLength() - RingFrame.HEADER_LENGTH;
        if (chunkBytes < Float.BYTES) {
            close();
            throw new IllegalStateException("MTU too small: maxPayloadLength " + publication.maxPayloadLength());
        }
        this.round = new Round(chunkBytes);
    }

    public Config config() {
        return config;
    }

    @Override
    public int rank() {
        return config.rank();
    }

    @Override
    public int worldSize() {
        return config.worldSize();
    }

    /** Values per frame this rank sends in the ring's wire format (its publication's payload limit, less the header). */
    public int chunkElements() {
        return round == null ? 0 : round.chunkBytes / config.wire().bytesPerElement();
    }

    /** Frames received and not summed since this ring was formed: strays, other jobs, other generations. */
    public long droppedFrames() {
        return round == null ? 0 : round.dropped;
    }

    @Override
    public java.util.Map<String, Long> droppedFramesByReason() {
        return java.util.Map.of("bad_mac", badMacFrames(), "other", droppedFrames() - badMacFrames());
    }

    /**
     * How often a frame of the neighbour's next round was met and left in the log for the next call (the same
     * frame may be met more than once); for tests and diagnostics, read by the calling thread.
     */
    long deferredFrames() {
        return round == null ? 0 : round.deferred;
    }

    /** Frames dropped because their MAC did not verify (forged, corrupted, or of a job with another token). */
    public long badMacFrames() {
        return round == null ? 0 : round.badMacs;
    }

    /** Why the latest frame was dropped, or null; for diagnostics. */
    public String lastDropReason() {
        return round == null ? null : round.lastDropReason;
    }

    /**
     * Replaces {@code buffer} with its element-wise sum over all ranks; see the class comment for the protocol.
     *
     * @throws ExchangeTimeoutException when the ring did not complete within {@code timeoutMs}
     * @throws IllegalStateException    when called after a timeout or close
     */
    @Override
    public void allReduce(float[] buffer, long step) {
        allReduce(buffer, step, config.wire());
    }

    /** As {@link #allReduce(float[], long)} with fp32 on the wire, whatever the ring's format: sums are exact. */
    @Override
    public void allReduceExact(float[] buffer, long step) {
        allReduce(buffer, step, Wire.FP32);
    }

    private void allReduce(float[] buffer, long step, Wire wire) {
        if (config.worldSize() == 1) {
            return;
        }
        if (finished) {
            throw new IllegalStateException("rank " + rank() + ": this ring is finished (timed out or closed);"
                    + " re-form it at a new generation");
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.timeoutMs());
        round.begin(buffer, step, wire);
        idle.reset();
        try {
            while (!round.isComplete()) {
                long newest = newestGeneration.getAsLong();
                if (newest > config.generation()) {
                    finished = true;
                    throw new GenerationChangedException(rank(), step, config.generation(), newest);
                }
                int work = round.doWork();
                if (round.publicationFailed()) {
                    finished = true;
                    throw new IllegalStateException("rank " + rank() + ": publication to rank " + config.right()
                            + " failed: " + round.lastClaimResult());
                }
                if (System.nanoTime() - deadline > 0) {
                    finished = true;
                    throw round.timeout();
                }
                idle.idle(work);
            }
        } finally {
            round.end();
        }
    }

    @Override
    public void close() {
        finished = true;
        if (publication != null && ownsPublication) {
            publication.close();
        }
    }

    /** Segment i of a buffer of n values among P ranks starts here (segments are contiguous, in rank order). */
    static int segmentStart(int n, int worldSize, int i) {
        int base = n / worldSize;
        int extra = n % worldSize;
        return i * base + Math.min(i, extra);
    }

    static int segmentLength(int n, int worldSize, int i) {
        return n / worldSize + (i < n % worldSize ? 1 : 0);
    }

    /**
     * The state of one all-reduce and its duty cycle. Receive cursor: step {@code recvStep}, {@code recvDone}
     * values of its segment so far; send cursor likewise. Both only move forward.
     */
    private final class Round implements Agent, ControlledFragmentHandler {

        private final int size = config.worldSize();
        private final int rank = config.rank();
        private final int steps = 2 * (size - 1);
        private final long job = RingFrame.jobHash(config.jobId());
        private final FrameMac mac = config.mac() == null ? null : config.mac().copy();
        private final int chunkBytes;
        private final BufferClaim claim = new BufferClaim();

        private Wire wire;
        private int bytesPerElement;
        private int chunkElements;

        private float[] scratchFloats;
        private short[] scratchShorts;
        private float[] buffer;
        private int length;
        private long step;
        private int number;
        private int recvStep;
        private int recvDone;
        private int sendStep;
        private int sendDone;
        private long lastClaimResult;
        private long deferred;
        volatile long dropped;
        volatile long badMacs;
        volatile String lastDropReason;

        Round(int chunkBytes) {
            this.chunkBytes = chunkBytes;
            this.scratchFloats = new float[chunkBytes / Float.BYTES];
            this.scratchShorts = new short[chunkBytes / Short.BYTES];
        }

        void begin(float[] buffer, long step, Wire wire) {
            this.wire = wire;
            this.bytesPerElement = wire.bytesPerElement();
            this.chunkElements = chunkBytes / bytesPerElement;
            this.buffer = buffer;
            this.length = buffer.length;
            this.step = step;
            recvStep = skipEmpty(0, true);
            recvDone = 0;
            sendStep = skipEmpty(0, false);
            sendDone = 0;
            lastClaimResult = 0;
        }

        void end() {
            buffer = null;
            number++;
        }

        boolean isComplete() {
            return recvStep == steps && sendStep == steps;
        }

        boolean publicationFailed() {
            return lastClaimResult == Publication.CLOSED || lastClaimResult == Publication.MAX_POSITION_EXCEEDED;
        }

        String lastClaimResult() {
            return claimResultName(lastClaimResult);
        }

        @Override
        public String roleName() {
            return "ring-all-reduce-rank-" + rank;
        }

        @Override
        public int doWork() {
            int work = inbox.subscription().controlledPoll(this, FRAGMENT_LIMIT);
            for (int chunks = 0; chunks < CHUNKS_PER_CYCLE && sendStep < steps; chunks++) {
                if (!sendChunk()) {
                    break;
                }
                work++;
            }
            return work;
        }

        private int sendSegment(int t) {
            return Math.floorMod(rank - t, size);
        }

        private int recvSegment(int t) {
            return Math.floorMod(rank - t - 1, size);
        }

        /** The first step from {@code t} on whose segment is not empty (or {@code steps}). */
        private int skipEmpty(int t, boolean receiving) {
            while (t < steps && segmentLength(length, size, receiving ? recvSegment(t) : sendSegment(t)) == 0) {
                t++;
            }
            return t;
        }

        /** Values of the current send segment that are ready to go: at step t, what step t−1 has received. */
        private int available(int segmentLength) {
            if (sendStep == 0 || recvStep > sendStep - 1) {
                return segmentLength;
            }
            return recvStep == sendStep - 1 ? recvDone : 0;
        }

        /** Sends one chunk if one is ready and the publication has room; false otherwise. */
        private boolean sendChunk() {
            int segment = sendSegment(sendStep);
            int segmentLength = segmentLength(length, size, segment);
            int count = Math.min(chunkElements, segmentLength - sendDone);
            if (available(segmentLength) - sendDone < count) {
                return false;                                       // waiting for the left neighbour
            }
            long result = publication.tryClaim(RingFrame.HEADER_LENGTH + count * bytesPerElement, claim);
            if (result < 0) {
                lastClaimResult = result;                           // not connected, back pressure, admin action
                return false;
            }
            int from = segmentStart(length, size, segment) + sendDone;
            boolean allGather = sendStep >= size - 1;
            MutableDirectBuffer out = claim.buffer();
            int at = claim.offset();
            RingFrame.writeHeader(out, at, wire, allGather ? RingFrame.ALL_GATHER : RingFrame.REDUCE_SCATTER, job,
                    config.generation(), step, number, allGather ? sendStep - (size - 1) : sendStep, from, count,
                    length);
            // the first all-gather step sends this rank's own complete segment: keep exactly what others get
            encode(from, count, out, at + RingFrame.HEADER_LENGTH, sendStep == size - 1);
            out.putLong(at + RingFrame.TAG_OFFSET, mac == null ? 0
                    : RingFrame.computeTag(mac, out, at, RingFrame.HEADER_LENGTH + count * bytesPerElement),
                    RingFrame.ORDER);
            claim.commit();
            sendDone += count;
            if (sendDone == segmentLength) {
                sendStep = skipEmpty(sendStep + 1, false);
                sendDone = 0;
            }
            return true;
        }

        @Override
        public Action onFragment(DirectBuffer in, int at, int frameLength, Header header) {
            if (frameLength < RingFrame.HEADER_LENGTH || RingFrame.magic(in, at) != RingFrame.MAGIC) {
                return drop("not a ring frame");
            }
            if ((header.flags() & FrameDescriptor.UNFRAGMENTED) != FrameDescriptor.UNFRAGMENTED) {
                return drop("a fragmented message");
            }
            if (mac != null && RingFrame.tag(in, at) != RingFrame.computeTag(mac, in, at, frameLength)) {
                badMacs++;
                return drop("its MAC does not verify");
            }
            if (RingFrame.job(in, at) != job) {
                return drop("another job");
            }
            long generation = RingFrame.generation(in, at);
            if (generation > config.generation()) {
                deferred++;
                return Action.ABORT;                                // a newer ring's: read there, not here
            }
            if (generation < config.generation()) {
                return drop("generation " + generation + ", not " + config.generation());
            }
            int frameRound = RingFrame.round(in, at);
            if (frameRound > number) {
                deferred++;
                return Action.ABORT;                                // the neighbour's next round: read it then
            }
            if (frameRound < number) {
                return drop("round " + frameRound + " is over");
            }
            long frameStep = RingFrame.step(in, at);
            if (frameStep != step) {
                return drop("step " + frameStep + " in the round of step " + step);
            }
            if (RingFrame.wire(in, at) != wire.ordinal() || RingFrame.length(in, at) != length) {
                return drop("wire format " + RingFrame.wire(in, at) + " or buffer length "
                        + RingFrame.length(in, at) + " differs");
            }
            byte phase = RingFrame.phase(in, at);
            int index = RingFrame.index(in, at);
            int t = phase == RingFrame.REDUCE_SCATTER ? index : phase == RingFrame.ALL_GATHER ? size - 1 + index : -1;
            int count = RingFrame.count(in, at);
            if (t != recvStep || index < 0 || index > size - 2) {
                return drop("ring step " + t + " while expecting " + recvStep);
            }
            int segment = recvSegment(t);
            int segmentLength = segmentLength(length, size, segment);
            int into = segmentStart(length, size, segment) + recvDone;
            if (RingFrame.chunkOffset(in, at) != into || count < 1 || count > segmentLength - recvDone
                    || frameLength != RingFrame.HEADER_LENGTH + count * bytesPerElement) {
                return drop("values at " + RingFrame.chunkOffset(in, at) + " (" + count + ") while expecting "
                        + into);
            }
            decode(in, at + RingFrame.HEADER_LENGTH, into, count, t < size - 1);
            recvDone += count;
            if (recvDone == segmentLength) {
                recvStep = skipEmpty(recvStep + 1, true);
                recvDone = 0;
            }
            return Action.CONTINUE;
        }

        private Action drop(String reason) {
            lastDropReason = reason;
            dropped = dropped + 1;                                  // one writer: this thread
            return Action.CONTINUE;
        }

        /** Writes buffer[from, from+count) in the wire format at {@code out[at]}. */
        private void encode(int from, int count, MutableDirectBuffer out, int at, boolean keepRounded) {
            if (wire == Wire.FP32) {
                if (LITTLE_ENDIAN) {
                    UnsafeApi.copyMemory(buffer, FLOAT_BASE + 4L * from, out.byteArray(), out.addressOffset() + at,
                            4L * count);
                } else {
                    for (int i = 0; i < count; i++) {
                        out.putFloat(at + 4 * i, buffer[from + i], RingFrame.ORDER);
                    }
                }
                return;
            }
            short[] halves = scratchShorts;
            if (wire == Wire.BF16) {
                for (int i = 0; i < count; i++) {
                    halves[i] = Wire.toBf16(buffer[from + i]);
                }
            } else {
                for (int i = 0; i < count; i++) {
                    halves[i] = Wire.toFp16(buffer[from + i]);
                }
            }
            if (keepRounded) {
                for (int i = 0; i < count; i++) {
                    buffer[from + i] = wire.decode(halves[i]);
                }
            }
            if (LITTLE_ENDIAN) {
                UnsafeApi.copyMemory(halves, SHORT_BASE, out.byteArray(), out.addressOffset() + at, 2L * count);
            } else {
                for (int i = 0; i < count; i++) {
                    out.putShort(at + 2 * i, halves[i], RingFrame.ORDER);
                }
            }
        }

        /** Adds (reduce-scatter) or copies (all-gather) {@code count} wire values at {@code in[at]} into the buffer. */
        private void decode(DirectBuffer in, int at, int into, int count, boolean add) {
            if (wire == Wire.FP32) {
                if (!add && LITTLE_ENDIAN) {
                    UnsafeApi.copyMemory(in.byteArray(), in.addressOffset() + at, buffer, FLOAT_BASE + 4L * into,
                            4L * count);
                    return;
                }
                float[] values = floats(count);
                if (LITTLE_ENDIAN) {
                    UnsafeApi.copyMemory(in.byteArray(), in.addressOffset() + at, values, FLOAT_BASE, 4L * count);
                } else {
                    for (int i = 0; i < count; i++) {
                        values[i] = in.getFloat(at + 4 * i, RingFrame.ORDER);
                    }
                }
                if (add) {
                    for (int i = 0; i < count; i++) {
                        buffer[into + i] += values[i];
                    }
                } else {
                    System.arraycopy(values, 0, buffer, into, count);
                }
                return;
            }
            short[] halves = shorts(count);
            if (LITTLE_ENDIAN) {
                UnsafeApi.copyMemory(in.byteArray(), in.addressOffset() + at, halves, SHORT_BASE, 2L * count);
            } else {
                for (int i = 0; i < count; i++) {
                    halves[i] = in.getShort(at + 2 * i, RingFrame.ORDER);
                }
            }
            if (wire == Wire.BF16) {
                if (add) {
                    for (int i = 0; i < count; i++) {
                        buffer[into + i] += Wire.fromBf16(halves[i]);
                    }
                } else {
                    for (int i = 0; i < count; i++) {
                        buffer[into + i] = Wire.fromBf16(halves[i]);
                    }
                }
            } else {
                if (add) {
                    for (int i = 0; i < count; i++) {
                        buffer[into + i] += Wire.fromFp16(halves[i]);
                    }
                } else {
                    for (int i = 0; i < count; i++) {
                        buffer[into + i] = Wire.fromFp16(halves[i]);
                    }
                }
            }
        }

        /** The left neighbour may run a larger MTU than ours: scratch grows to the largest chunk seen. */
        private float[] floats(int count) {
            if (scratchFloats.length < count) {
                scratchFloats = new float[count];
            }
            return scratchFloats;
        }

        private short[] shorts(int count) {
            if (scratchShorts.length < count) {
                scratchShorts = new short[count];
            }
            return scratchShorts;
        }

        ExchangeTimeoutException timeout() {
            String phase;
            String waitingFor;
            if (recvStep < steps) {
                int segment = recvSegment(recvStep);
                int start = segmentStart(length, size, segment);
                phase = phaseName(recvStep);
                waitingFor = "values [" + (start + recvDone) + ", " + (start + segmentLength(length, size, segment))
                        + ") of segment " + segment + " from left neighbour rank " + config.left() + " ("
                        + config.endpoints().get(config.left()) + "); images connected to this inbox: "
                        + inbox.subscription().imageCount() + "; dropped frames: " + dropped
                        + (lastDropReason == null ? "" : " (latest: " + lastDropReason + ")");
            } else {
                int segment = sendSegment(sendStep);
                int start = segmentStart(length, size, segment) + sendDone;
                phase = phaseName(sendStep);
                waitingFor = "room to send values from " + start + " of segment " + segment
                        + " to right neighbour rank " + config.right() + " (" + config.endpoints().get(config.right())
                        + "): publication " + claimResultName(lastClaimResult);
            }
            return new ExchangeTimeoutException(rank, step, phase, waitingFor, config.timeoutMs());
        }

        private String phaseName(int t) {
            return t < size - 1
                    ? "reduce-scatter " + (t + 1) + " of " + (size - 1)
                    : "all-gather " + (t - size + 2) + " of " + (size - 1);
        }
    }

    private static String claimResultName(long result) {
        if (result == Publication.NOT_CONNECTED) {
            return "not connected";
        }
        if (result == Publication.BACK_PRESSURED) {
            return "back pressured";
        }
        if (result == Publication.ADMIN_ACTION) {
            return "in an admin action";
        }
        if (result == Publication.CLOSED) {
            return "closed";
        }
        if (result == Publication.MAX_POSITION_EXCEEDED) {
            return "past its maximum position";
        }
        return "ready";
    }
}
