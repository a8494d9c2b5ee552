package io.ringformer.worker.exchange;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.Publication;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The ring on real Aeron: real embedded media drivers, one Aeron client per rank, each rank in its own thread.
 *
 * <p>Exactness: over fp32 the ring sums segment s in rank order s, s+1, …, s+P−1 (mod P) (see
 * {@link RingAllReduce}'s class comment), so the expected sum is computed here in that same order and compared
 * bit for bit; it is also checked against a double-precision sum within the fp32 bound (P−1)·2⁻²⁴·Σ|x|.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RingAllReduceTest {

    enum Transport { UDP, IPC }

    private static final int[] SIZES = {1, 2, 3, 5, 1000, 12345, 300_001};
    private static final long TIMEOUT_MS = 30_000;

    private static MediaDriverHost shared;

    @BeforeAll
    static void startDriver() {
        shared = MediaDriverHost.start();
    }

    @AfterAll
    static void stopDriver() {
        shared.close();
    }

    // ---------------------------------------------------------------------------------------------------------
    // sums

    static Stream<Arguments> worlds() {
        return Stream.of(2, 3, 4).flatMap(p -> Stream.of(Transport.values()).map(t -> Arguments.of(p, t)));
    }

    @ParameterizedTest(name = "P={0} over {1}")
    @MethodSource("worlds")
    void everyRankGetsTheExactSumForEverySize(int worldSize, Transport transport) throws Exception {
        try (TestRing ring = TestRing.start(worldSize, transport, Wire.FP32, false, "job-sum", 1, TIMEOUT_MS)) {
            long step = 0;
            for (int size : SIZES) {
                float[][] inputs = randomInputs(worldSize, size, 17 * size + worldSize);
                float[][] outputs = ring.allReduce(inputs, step++);
                float[] expected = ringOrderSum(inputs);
                for (int r = 0; r < worldSize; r++) {
                    assertArrayEquals(expected, outputs[r], "rank " + r + ", size " + size);
                }
                assertCloseToExactSum(inputs, outputs[0], (worldSize - 1) * 0x1p-24, 0);
            }
            for (RingAllReduce rank : ring.rings) {
                assertEquals(0, rank.droppedFrames(), "rank " + rank.rank() + ": " + rank.lastDropReason());
            }
        }
    }

    /**
     * Each rank runs its steps in its own loop, with no barrier between calls, as trainers do: a fast rank starts
     * the next round while its right neighbour is still finishing this one, so frames of the next round reach
     * an inbox early and must be kept for the next call, not dropped. Sizes change between calls; negative steps
     * are evaluations, numbered as {@code Trainer} numbers them. Each rank has its own driver with its own MTU,
     * so neighbours send chunks of different sizes.
     */
    @Test
    void consecutiveStepsReuseTheExchangeOneDriverPerRank() throws Exception {
        int worldSize = 3;
        long[] steps = new long[40];
        int[] sizes = new int[steps.length];
        for (int i = 0; i < steps.length; i++) {
            steps[i] = i % 5 == 4 ? -1 - i : i;
            sizes[i] = i % 5 == 4 ? 1 : 20_000 + 7 * i;
        }
        float[][][] inputs = new float[steps.length][][];
        for (int i = 0; i < steps.length; i++) {
            inputs[i] = randomInputs(worldSize, sizes[i], 1000 + i);
        }
        try (TestRing ring = TestRing.start(worldSize, Transport.UDP, Wire.FP32, true, "job-steps", 4, 10_000)) {
            assertEquals(3, ring.rings.stream().mapToInt(RingAllReduce::chunkElements).distinct().count(),
                    "chunk sizes per rank");
            List<Future<float[][]>> ranks = new ArrayList<>();
            for (int r = 0; r < worldSize; r++) {
                RingAllReduce rank = ring.rings.get(r);
                int me = r;
                ranks.add(ring.pool.submit(() -> {
                    float[][] results = new float[steps.length][];
                    for (int i = 0; i < steps.length; i++) {
                        results[i] = inputs[i][me].clone();
                        rank.allReduce(results[i], steps[i]);
                    }
                    return results;
                }));
            }
            long deferred = 0;
            for (int r = 0; r < worldSize; r++) {
                float[][] results = ranks.get(r).get();
                for (int i = 0; i < steps.length; i++) {
                    assertArrayEquals(ringOrderSum(inputs[i]), results[i], "rank " + r + ", call " + i);
                }
                assertEquals(0, ring.rings.get(r).droppedFrames(), ring.rings.get(r).lastDropReason());
                deferred += ring.rings.get(r).deferredFrames();
            }
            System.out.println("frames of a next round met early: " + deferred);
        }
    }

    @Test
    void aWorldOfOneLeavesTheBufferAsItIs() {
        RingAllReduce alone = new RingAllReduce(null, null, new RingAllReduce.Config(
                "job", 0, 0, 1, List.of("aeron:ipc"), 1000, Wire.FP32));
        float[] buffer = {1.5f, -2f, 3f};
        alone.allReduce(buffer, 0);
        assertArrayEquals(new float[] {1.5f, -2f, 3f}, buffer);
        assertEquals(1, alone.worldSize());
        alone.close();
    }

    // ---------------------------------------------------------------------------------------------------------
    // 16-bit wires

    static Stream<Arguments> halfWires() {
        return Stream.of(Wire.BF16, Wire.FP16).flatMap(wire -> Stream.of(
                Arguments.of(wire, 2, Transport.IPC), Arguments.of(wire, 3, Transport.IPC),
                Arguments.of(wire, 4, Transport.IPC), Arguments.of(wire, 3, Transport.UDP)));
    }

    /**
     * One rounding per hop: P−1 partial sums are rounded on their way through reduce-scatter and the complete sum
     * once when all-gather starts — P roundings of values no larger than Σ|x|, each off by at most u·|value|
     * (u = 2⁻⁸ for bf16's 8-bit significand, 2⁻¹¹ for fp16's 11 bits), plus P−1 fp32 additions (2⁻²⁴ each):
     * |result − exact| ≤ (P·u + (P−1)·2⁻²⁴)·Σ|x|, and for fp16 P·2⁻²⁵ more where values fall into its
     * subnormal range (an absolute error of half its smallest step). The bit-exact emulation of the same
     * roundings must match exactly, and every rank must hold the same bits.
     */
    @ParameterizedTest(name = "{0}, P={1} over {2}")
    @MethodSource("halfWires")
    void halfPrecisionWireStaysWithinOneRoundingPerHop(Wire wire, int worldSize, Transport transport)
            throws Exception {
        double u = wire == Wire.BF16 ? 0x1p-8 : 0x1p-11;
        double absolute = wire == Wire.FP16 ? worldSize * 0x1p-25 : 0;
        try (TestRing ring = TestRing.start(worldSize, transport, wire, false, "job-half", 2, TIMEOUT_MS)) {
            long step = 0;
            for (int size : SIZES) {
                float[][] inputs = randomInputs(worldSize, size, 31 * size + worldSize);
                float[][] outputs = ring.allReduce(inputs, step++);
                for (int r = 0; r < worldSize; r++) {
                    assertArrayEquals(outputs[0], outputs[r], "rank " + r + " differs from rank 0, size " + size);
                }
                assertCloseToExactSum(inputs, outputs[0], worldSize * u + (worldSize - 1) * 0x1p-24, absolute);
                assertArrayEquals(ringOrderSumOnWire(inputs, wire), outputs[0], "emulated roundings, size " + size);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // isolation

    /**
     * Three strays publish well-formed frames into rank 0's inbox while rank 0 is inside a step (rank 1 is held
     * back until all of them have been seen, so they cannot arrive after the step): one of another job, one of
     * the previous generation, one of this job and generation but another step. Values of 1e6 would show in the
     * sums if any were added.
     */
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void framesOfAnotherJobGenerationOrStepAreDroppedAndCounted() throws Exception {
        int size = 1000;
        int perStray = 5;
        try (TestRing ring = TestRing.start(2, Transport.UDP, Wire.FP32, false, "job-A", 7, TIMEOUT_MS);
                Aeron strayClient = shared.connect()) {
            String target = ring.inboxes.get(0).endpoint();
            ExclusivePublication otherJob = strayClient.addExclusivePublication(target, RingAllReduce.STREAM_ID);
            ExclusivePublication oldGeneration = strayClient.addExclusivePublication(target, RingAllReduce.STREAM_ID);
            ExclusivePublication otherStep = strayClient.addExclusivePublication(target, RingAllReduce.STREAM_ID);

            float[][] inputs = randomInputs(2, size, 99);
            float[] rank0 = inputs[0].clone();
            float[] rank1 = inputs[1].clone();
            Future<?> first = ring.pool.submit(() -> ring.rings.get(0).allReduce(rank0, 42));

            // rank 0 expects segment 1 = values [500, 1000) at reduce-scatter step 0: forge exactly that
            int offset = RingAllReduce.segmentStart(size, 2, 1);
            int count = RingAllReduce.segmentLength(size, 2, 1);
            for (int i = 0; i < perStray; i++) {
                offerUntilSent(otherJob, forgedFrame(RingFrame.jobHash("job-B"), 7, 42, offset, count, size));
                offerUntilSent(oldGeneration, forgedFrame(RingFrame.jobHash("job-A"), 6, 42, offset, count, size));
                offerUntilSent(otherStep, forgedFrame(RingFrame.jobHash("job-A"), 7, 41, offset, count, size));
            }
            while (ring.rings.get(0).droppedFrames() < 3 * perStray) {
                Thread.sleep(1);                                    // bounded by the test's @Timeout
            }
            Future<?> second = ring.pool.submit(() -> ring.rings.get(1).allReduce(rank1, 42));
            first.get();
            second.get();

            float[] expected = ringOrderSum(inputs);
            assertArrayEquals(expected, rank0);
            assertArrayEquals(expected, rank1);
            assertEquals(3 * perStray, ring.rings.get(0).droppedFrames());
            assertEquals(0, ring.rings.get(1).droppedFrames());

            // the ring goes on cleanly afterwards
            float[][] next = randomInputs(2, size, 100);
            float[][] outputs = ring.allReduce(next, 43);
            assertArrayEquals(ringOrderSum(next), outputs[0]);
            assertArrayEquals(ringOrderSum(next), outputs[1]);
            assertEquals(3 * perStray, ring.rings.get(0).droppedFrames());
        }
    }

    /**
     * Fuzz: a ring whose frames carry a MAC receives, while it waits for its peer, 200 frames of each kind an
     * attacker or a fault could send — the exact frame it expects with a missing or a random tag, a correctly tagged
     * frame with one bit flipped, a truncated one, and random bytes — and must drop and count every one, sum
     * nothing of them, and end with the exact sum.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void framesWithoutAValidMacAreDroppedAndCountedNeverSummed() throws Exception {
        int size = 1000;
        int perKind = 200;
        FrameMac mac = FrameMac.ofToken("the job's token");
        FrameMac attacker = FrameMac.ofToken("a guess");
        java.util.Random random = new java.util.Random(2026);
        try (TestRing ring = TestRing.start(2, Transport.UDP, Wire.FP32, false, "job-A", 7, TIMEOUT_MS, mac);
                Aeron strayClient = shared.connect()) {
            String target = ring.inboxes.get(0).endpoint();
            ExclusivePublication stray = strayClient.addExclusivePublication(target, RingAllReduce.STREAM_ID);
            float[][] inputs = randomInputs(2, size, 7);
            float[] rank0 = inputs[0].clone();
            float[] rank1 = inputs[1].clone();
            Future<?> first = ring.pool.submit(() -> ring.rings.get(0).allReduce(rank0, 42));

            int offset = RingAllReduce.segmentStart(size, 2, 1);
            int count = RingAllReduce.segmentLength(size, 2, 1);
            long job = RingFrame.jobHash("job-A");
            int sent = 0;
            for (int i = 0; i < perKind; i++) {
                UnsafeBuffer untagged = forgedFrame(job, 7, 42, offset, count, size);         // tag 0
                offerUntilSent(stray, untagged);
                UnsafeBuffer guessed = forgedFrame(job, 7, 42, offset, count, size);
                guessed.putLong(RingFrame.TAG_OFFSET, random.nextLong(), RingFrame.ORDER);
                offerUntilSent(stray, guessed);
                UnsafeBuffer wrongKey = forgedFrame(job, 7, 42, offset, count, size);
                wrongKey.putLong(RingFrame.TAG_OFFSET,
                        RingFrame.computeTag(attacker, wrongKey, 0, wrongKey.capacity()), RingFrame.ORDER);
                offerUntilSent(stray, wrongKey);
                UnsafeBuffer flipped = forgedFrame(job, 7, 42, offset, count, size);
                flipped.putLong(RingFrame.TAG_OFFSET, RingFrame.computeTag(mac, flipped, 0, flipped.capacity()),
                        RingFrame.ORDER);
                int bit = random.nextInt(8 * flipped.capacity());
                if (bit / 8 >= RingFrame.TAG_OFFSET && bit / 8 < RingFrame.HEADER_LENGTH || bit / 8 < 4) {
                    bit = 8 * (RingFrame.HEADER_LENGTH + random.nextInt(4 * count));   // keep magic and tag
                }
                flipped.putByte(bit / 8, (byte) (flipped.getByte(bit / 8) ^ (1 << (bit % 8))));
                offerUntilSent(stray, flipped);
                UnsafeBuffer whole = forgedFrame(job, 7, 42, offset, count, size);
                whole.putLong(RingFrame.TAG_OFFSET, RingFrame.computeTag(mac, whole, 0, whole.capacity()),
                        RingFrame.ORDER);
                offerUntilSent(stray, new UnsafeBuffer(whole.byteArray(), 0,
                        RingFrame.HEADER_LENGTH + random.nextInt(4 * count)));                // truncated
                byte[] noise = new byte[1 + random.nextInt(stray.maxPayloadLength())];
                random.nextBytes(noise);
                offerUntilSent(stray, new UnsafeBuffer(noise));
                sent += 6;
            }
            while (ring.rings.get(0).droppedFrames() < sent) {
                Thread.sleep(1);                                    // bounded by the test's @Timeout
            }
            Future<?> second = ring.pool.submit(() -> ring.rings.get(1).allReduce(rank1, 42));
            first.get();
            second.get();

            float[] expected = ringOrderSum(inputs);
            assertArrayEquals(expected, rank0);
            assertArrayEquals(expected, rank1);
            assertEquals(sent, ring.rings.get(0).droppedFrames());
            assertTrue(ring.rings.get(0).badMacFrames() >= 5L * perKind - perKind, "bad MACs counted: "
                    + ring.rings.get(0).badMacFrames());
            assertEquals(0, ring.rings.get(1).droppedFrames());
        }
    }

    private static UnsafeBuffer forgedFrame(long job, long generation, long step, int offset, int count, int length) {
        UnsafeBuffer frame = new UnsafeBuffer(new byte[RingFrame.HEADER_LENGTH + 4 * count]);
        RingFrame.writeHeader(frame, 0, Wire.FP32, RingFrame.REDUCE_SCATTER, job, generation, step, 0, 0, offset,
                count, length);
        for (int i = 0; i < count; i++) {
            frame.putFloat(RingFrame.HEADER_LENGTH + 4 * i, 1e6f, RingFrame.ORDER);
        }
        return frame;
    }

    private static void offerUntilSent(Publication publication, UnsafeBuffer frame) throws InterruptedException {
        while (publication.offer(frame) < 0) {
            Thread.sleep(1);                                        // not connected yet, or back pressure
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // time limits

    @Test
    void aRingWithAMissingRankTimesOutOnEveryLiveRank() throws Exception {
        // rank 2 has an inbox (so rank 1's publication connects) but never joins: nothing comes round to rank 0
        try (TestRing ring = TestRing.start(3, Transport.UDP, Wire.FP32, false, "job-gone", 3, 1000)) {
            float[][] inputs = randomInputs(3, 1000, 5);
            List<Future<?>> live = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                RingAllReduce rank = ring.rings.get(r);
                float[] buffer = inputs[r];
                live.add(ring.pool.submit(() -> rank.allReduce(buffer, 9)));
            }
            for (int r = 0; r < 2; r++) {
                ExecutionException failure = assertThrows(ExecutionException.class, live.get(r)::get);
                ExchangeTimeoutException timeout = assertInstanceOf(ExchangeTimeoutException.class, failure.getCause());
                assertEquals(r, timeout.rank());
                assertEquals(9, timeout.step());
                assertTrue(timeout.getMessage().contains("rank " + r), timeout.getMessage());
            }
            RingAllReduce broken = ring.rings.get(0);
            assertThrows(IllegalStateException.class, () -> broken.allReduce(new float[10], 10));
        }
    }

    @Test
    void aRightNeighbourThatIsNotListeningTimesOut() throws Exception {
        try (Aeron client = shared.connect();
                RingAllReduce.Inbox mine = RingAllReduce.Inbox.open(client, "aeron:udp?endpoint=127.0.0.1:0")) {
            String nobody;
            try (RingAllReduce.Inbox gone = RingAllReduce.Inbox.open(client, "aeron:udp?endpoint=127.0.0.1:0")) {
                nobody = gone.endpoint();
            }
            try (RingAllReduce ring = new RingAllReduce(client, mine, new RingAllReduce.Config(
                    "job-alone", 0, 0, 2, List.of(mine.endpoint(), nobody), 500, Wire.FP32))) {
                ExchangeTimeoutException timeout =
                        assertThrows(ExchangeTimeoutException.class, () -> ring.allReduce(new float[100], 0));
                assertEquals(0, timeout.rank());
            }
        }
    }

    @Test
    void configRejectsInconsistentRings() {
        assertThrows(IllegalArgumentException.class,
                () -> new RingAllReduce.Config("job", 0, 2, 2, List.of("a", "b"), 1000, Wire.FP32));
        assertThrows(IllegalArgumentException.class,
                () -> new RingAllReduce.Config("job", 0, 0, 3, List.of("a", "b"), 1000, Wire.FP32));
        assertThrows(IllegalArgumentException.class,
                () -> new RingAllReduce.Config("job", 0, 0, 2, List.of("a", "b"), 0, Wire.FP32));
        assertThrows(IllegalArgumentException.class,
                () -> new RingAllReduce.Config(" ", 0, 0, 2, List.of("a", "b"), 1000, Wire.FP32));
    }

    // ---------------------------------------------------------------------------------------------------------
    // references

    /** Values of mixed sign and magnitude (1e-3 … 1e2), no two ranks alike. */
    static float[][] randomInputs(int worldSize, int size, long seed) {
        Random random = new Random(seed);
        float[][] inputs = new float[worldSize][size];
        for (float[] rank : inputs) {
            for (int i = 0; i < size; i++) {
                rank[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(6) - 3));
            }
        }
        return inputs;
    }

    /** Segment s summed in the ring's order: rank s first, then s+1, … (mod P). */
    static float[] ringOrderSum(float[][] inputs) {
        int worldSize = inputs.length;
        int size = inputs[0].length;
        float[] sum = new float[size];
        for (int s = 0; s < worldSize; s++) {
            int start = RingAllReduce.segmentStart(size, worldSize, s);
            for (int i = start; i < start + RingAllReduce.segmentLength(size, worldSize, s); i++) {
                float acc = inputs[s][i];
                for (int j = 1; j < worldSize; j++) {
                    acc += inputs[(s + j) % worldSize][i];
                }
                sum[i] = acc;
            }
        }
        return sum;
    }

    /** The same, rounding each partial sum to the wire format on every hop and the total once more. */
    static float[] ringOrderSumOnWire(float[][] inputs, Wire wire) {
        int worldSize = inputs.length;
        int size = inputs[0].length;
        float[] sum = new float[size];
        for (int s = 0; s < worldSize; s++) {
            int start = RingAllReduce.segmentStart(size, worldSize, s);
            for (int i = start; i < start + RingAllReduce.segmentLength(size, worldSize, s); i++) {
                float acc = inputs[s][i];
                for (int j = 1; j < worldSize; j++) {
                    acc = wire.decode(wire.encode(acc)) + inputs[(s + j) % worldSize][i];
                }
                sum[i] = wire.decode(wire.encode(acc));
            }
        }
        return sum;
    }

    /** |result − Σx| ≤ relative·Σ|x| + absolute, element by element, with Σ in double precision. */
    static void assertCloseToExactSum(float[][] inputs, float[] result, double relative, double absolute) {
        for (int i = 0; i < result.length; i++) {
            double exact = 0;
            double magnitude = 0;
            for (float[] rank : inputs) {
                exact += rank[i];
                magnitude += Math.abs(rank[i]);
            }
            double bound = relative * magnitude * 1.0001 + absolute;
            if (!(Math.abs(result[i] - exact) <= bound)) {
                fail("element " + i + " of " + result.length + ": " + result[i] + " vs exact " + exact
                        + ", off by more than " + bound);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    /**
     * P ranks in one JVM: each its own Aeron client, inbox and ring, on a shared driver or a driver each (then
     * with different MTUs).
     */
    static final class TestRing implements AutoCloseable {

        final List<MediaDriverHost> drivers = new ArrayList<>();
        final List<Aeron> clients = new ArrayList<>();
        final List<RingAllReduce.Inbox> inboxes = new ArrayList<>();
        final List<RingAllReduce> rings = new ArrayList<>();
        final ExecutorService pool;

        private TestRing(int worldSize) {
            pool = Executors.newFixedThreadPool(worldSize, task -> {
                Thread thread = new Thread(task, "rank");
                thread.setDaemon(true);
                return thread;
            });
        }

        static TestRing start(int worldSize, Transport transport, Wire wire, boolean driverPerRank, String job,
                long generation, long timeoutMs) {
            return start(worldSize, transport, wire, driverPerRank, job, generation, timeoutMs, null);
        }

        static TestRing start(int worldSize, Transport transport, Wire wire, boolean driverPerRank, String job,
                long generation, long timeoutMs, FrameMac mac) {
            TestRing ring = new TestRing(worldSize);
            try {
                for (int r = 0; r < worldSize; r++) {
                    MediaDriverHost host = shared;
                    if (driverPerRank) {
                        // MTUs differ between ranks on purpose: the receiver tracks values, not chunks
                        int[] mtus = {8192, 16384, 4096};
                        host = MediaDriverHost.start(MediaDriverHost.Config.defaults().withMtuBytes(mtus[r % 3]));
                        ring.drivers.add(host);
                    }
                    Aeron client = host.connect();
                    ring.clients.add(client);
                    String channel = transport == Transport.UDP ? "aeron:udp?endpoint=127.0.0.1:0" : "aeron:ipc";
                    ring.inboxes.add(RingAllReduce.Inbox.open(client, channel));
                }
                List<String> endpoints = ring.inboxes.stream().map(RingAllReduce.Inbox::endpoint).toList();
                for (int r = 0; r < worldSize; r++) {
                    ring.rings.add(new RingAllReduce(ring.clients.get(r), ring.inboxes.get(r),
                            new RingAllReduce.Config(job, generation, r, worldSize, endpoints, timeoutMs, wire,
                                    mac)));
                }
                return ring;
            } catch (RuntimeException e) {
                ring.close();
                throw e;
            }
        }

        /** Every rank reduces a copy of its input in its own thread; returns what each rank ends with. */
        float[][] allReduce(float[][] inputs, long step) throws Exception {
            float[][] buffers = new float[inputs.length][];
            List<Callable<Void>> ranks = new ArrayList<>();
            for (int r = 0; r < inputs.length; r++) {
                buffers[r] = Arrays.copyOf(inputs[r], inputs[r].length);
                RingAllReduce rank = rings.get(r);
                float[] buffer = buffers[r];
                ranks.add(() -> {
                    rank.allReduce(buffer, step);
                    return null;
                });
            }
            for (Future<Void> done : pool.invokeAll(ranks)) {
                done.get();
            }
            return buffers;
        }

        @Override
        public void close() {
            pool.shutdownNow();
            rings.forEach(RingAllReduce::close);
            inboxes.forEach(RingAllReduce.Inbox::close);
            clients.forEach(Aeron::close);
            drivers.forEach(MediaDriverHost::close);
        }
    }
}
