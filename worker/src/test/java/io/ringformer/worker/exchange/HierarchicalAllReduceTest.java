package io.ringformer.worker.exchange;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The hierarchical all-reduce with its real parts: one mapped /dev/shm directory per "host", the members of a host
 * each with its own mapping, and a real Aeron ring (UDP on 127.0.0.1, {@link RingAllReduceTest.TestRing}) among
 * the hosts' leaders; each member in its own thread. The result is checked bit for bit against the order the
 * class promises: each host's members in rank order, then the hosts' sums in ring order.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HierarchicalAllReduceTest {

    private static final long TIMEOUT_MS = 60_000;

    private final List<Path> hostDirectories = new ArrayList<>();
    private ExecutorService pool;

    @BeforeEach
    void setUp() {
        pool = Executors.newCachedThreadPool();
    }

    @AfterEach
    void tearDown() throws Exception {
        pool.shutdownNow();
        for (Path directory : hostDirectories) {
            try (var files = Files.list(directory)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(directory);
        }
    }

    /** Members per host, e.g. "2 2": two hosts of two; slot sizes of 64 values force several rounds per call. */
    @ParameterizedTest(name = "hosts of {0}, slots of {1}")
    @CsvSource({"2 2, 64", "2 2, 16777216", "2 1 3, 64", "1 1, 64"})
    void everyMemberGetsTheHostsSumsSummedOverTheRingBitForBit(String hostSizes, int slotFloats) throws Exception {
        int[] sizes = Arrays.stream(hostSizes.split(" ")).mapToInt(Integer::parseInt).toArray();
        int world = Arrays.stream(sizes).sum();
        int[] lengths = {0, 1, 7, 64, 65, 1000, 300_001};
        try (World members = World.start(this, sizes, slotFloats, () -> 1)) {
            for (int s = 0; s < lengths.length; s++) {
                float[][] inputs = RingAllReduceTest.randomInputs(world, lengths[s], 31L * s + world);
                float[][] outputs = members.allReduce(inputs, s, false);
                float[] expected = expectedSum(sizes, inputs);
                for (int r = 0; r < world; r++) {
                    assertArrayEquals(expected, outputs[r], "rank " + r + ", length " + lengths[s]);
                }
                RingAllReduceTest.assertCloseToExactSum(inputs, outputs[0], (world - 1) * 0x1p-24, 0);
            }
        }
        for (Path directory : hostDirectories) {
            try (var files = Files.list(directory)) {
                assertEquals(List.of(), files.toList(), "each host's rank 0 deletes its file");
            }
        }
    }

    /** One member holds a state, the others −0.0: every member ends with its bits (how replicas synchronise). */
    @Test
    void anExactAllReduceCarriesOneMembersBitsToAll() throws Exception {
        int[] sizes = {2, 2};
        float[][] inputs = new float[4][1001];
        for (float[] member : inputs) {
            Arrays.fill(member, -0.0f);
        }
        float[] state = RingAllReduceTest.randomInputs(1, 1001, 5)[0];
        inputs[3] = state.clone();
        try (World members = World.start(this, sizes, 64, () -> 1)) {
            float[][] outputs = members.allReduce(inputs, 0, true);
            for (float[] output : outputs) {
                assertArrayEquals(state, output);
            }
        }
    }

    /**
     * A host whose leader never comes: its other member waits for the broadcast until the membership changes, and
     * leaves with the new generation's number rather than the timeout.
     */
    @Test
    void aNewerGenerationReleasesAMemberWaitingForItsLeadersBroadcast() throws Exception {
        AtomicLong newest = new AtomicLong(1);
        Path directory = hostDirectory();
        SharedMemoryAllReduce.Config leader = hostConfig(directory, 0, 2, 64);
        SharedMemoryAllReduce.Config member = hostConfig(directory, 1, 2, 64);
        try (SharedMemoryAllReduce leaderHost = new SharedMemoryAllReduce(leader, newest::get)) {
            Future<Throwable> waiting = pool.submit(() -> {
                try (HierarchicalAllReduce exchange = new HierarchicalAllReduce(1, 4,
                        new SharedMemoryAllReduce(member, newest::get), null)) {
                    exchange.allReduce(new float[10], 0);
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            leaderHost.reduceToRankZero(new float[10], 0);            // the host's sum, then no ring, no broadcast
            Thread.sleep(300);
            assertFalse(waiting.isDone(), "the member waits for its leader's broadcast");
            newest.set(2);
            GenerationChangedException e = assertInstanceOf(GenerationChangedException.class, waiting.get(),
                    "a newer generation, not the 60 s timeout, ends the wait");
            assertEquals(2, e.newest());
        }
    }

    @Test
    void aLeaderIsItsHostsRankZeroAndOnlyIt() throws Exception {
        Path directory = hostDirectory();
        try (SharedMemoryAllReduce first = new SharedMemoryAllReduce(hostConfig(directory, 0, 2, 64), () -> 1);
             SharedMemoryAllReduce second = new SharedMemoryAllReduce(hostConfig(directory, 1, 2, 64), () -> 1)) {
            assertThrows(IllegalArgumentException.class, () -> new HierarchicalAllReduce(0, 4, first, null));
            assertThrows(IllegalArgumentException.class, () -> new HierarchicalAllReduce(1, 4, second, new LocalExchange()));
            assertThrows(IllegalArgumentException.class, () -> new HierarchicalAllReduce(1, 4, null, null));
        }
    }

    /** Each host's members in rank order, then the hosts' sums in the ring's order. */
    private static float[] expectedSum(int[] sizes, float[][] inputs) {
        float[][] hostSums = new float[sizes.length][];
        int first = 0;
        for (int h = 0; h < sizes.length; h++) {
            hostSums[h] = inputs[first].clone();
            for (int r = first + 1; r < first + sizes[h]; r++) {
                for (int i = 0; i < hostSums[h].length; i++) {
                    hostSums[h][i] += inputs[r][i];
                }
            }
            first += sizes[h];
        }
        return sizes.length == 1 ? hostSums[0] : RingAllReduceTest.ringOrderSum(hostSums);
    }

    private Path hostDirectory() throws Exception {
        Path directory = Files.createTempDirectory(Path.of("/dev/shm"), "ringformer-hier-test-");
        hostDirectories.add(directory);
        return directory;
    }

    private static SharedMemoryAllReduce.Config hostConfig(Path directory, int rank, int members, int slotFloats) {
        List<String> endpoints = IntStream.range(0, members).mapToObj(r -> "aeron:udp?endpoint=127.0.0.1:" + (40000 + r))
                .toList();
        return new SharedMemoryAllReduce.Config(directory, "job-h", 1, rank, members, endpoints, TIMEOUT_MS, slotFloats);
    }

    /** The members of several hosts, in global rank order: host 0's, then host 1's, … */
    private static final class World implements AutoCloseable {

        final List<HierarchicalAllReduce> members = new ArrayList<>();
        final RingAllReduceTest.TestRing leaders;
        final ExecutorService pool;

        private World(RingAllReduceTest.TestRing leaders, ExecutorService pool) {
            this.leaders = leaders;
            this.pool = pool;
        }

        /** Opens every member's exchange (each host's rank 0 first: it creates the file the others map). */
        static World start(HierarchicalAllReduceTest test, int[] sizes, int slotFloats,
                           java.util.function.LongSupplier newest) throws Exception {
            World world = new World(RingAllReduceTest.TestRing.start(sizes.length, RingAllReduceTest.Transport.UDP,
                    Wire.FP32, true, "job-h", 1, TIMEOUT_MS), test.pool);   // a media driver per host
            int worldSize = Arrays.stream(sizes).sum();
            int rank = 0;
            for (int h = 0; h < sizes.length; h++) {
                Path directory = test.hostDirectory();
                for (int local = 0; local < sizes[h]; local++) {
                    SharedMemoryAllReduce host = sizes[h] == 1 ? null
                            : new SharedMemoryAllReduce(hostConfig(directory, local, sizes[h], slotFloats), newest);
                    world.members.add(new HierarchicalAllReduce(rank++, worldSize, host,
                            local == 0 ? world.leaders.rings.get(h) : null));
                }
            }
            return world;
        }

        float[][] allReduce(float[][] inputs, long step, boolean exact) throws Exception {
            List<Future<float[]>> done = new ArrayList<>();
            for (int r = 0; r < inputs.length; r++) {
                HierarchicalAllReduce member = members.get(r);
                float[] buffer = inputs[r].clone();
                done.add(pool.submit(() -> {
                    if (exact) {
                        member.allReduceExact(buffer, step);
                    } else {
                        member.allReduce(buffer, step);
                    }
                    return buffer;
                }));
            }
            float[][] outputs = new float[inputs.length][];
            for (int r = 0; r < inputs.length; r++) {
                outputs[r] = done.get(r).get();
            }
            return outputs;
        }

        @Override
        public void close() {
            members.forEach(HierarchicalAllReduce::close);     // closes the leaders' rings and the hosts' files
            leaders.close();
        }
    }
}
