package io.ringformer.worker.exchange;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
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
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The shared-memory all-reduce on a real mapped file in /dev/shm, each rank in its own thread with its own mapping
 * (processes meet the same way; `bench allreduce --transport shm` and every `train --workers N` job run it across
 * processes). Sums are checked bit for bit against the rank-order sum the class promises.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SharedMemoryAllReduceTest {

    private static final long TIMEOUT_MS = 60_000;

    private Path directory;
    private ExecutorService pool;

    @BeforeEach
    void setUp() throws Exception {
        directory = Files.createTempDirectory(Path.of("/dev/shm"), "ringformer-shm-test-");
        pool = Executors.newCachedThreadPool();
    }

    @AfterEach
    void tearDown() throws Exception {
        pool.shutdownNow();
        try (var files = Files.list(directory)) {
            for (Path p : files.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(directory);
    }

    private SharedMemoryAllReduce.Config config(int rank, int world, long generation, long timeoutMs, int slotFloats) {
        List<String> endpoints = IntStream.range(0, world).mapToObj(r -> "aeron:ipc?alias=inbox-" + (100 + r)).toList();
        return new SharedMemoryAllReduce.Config(directory, "job-a", generation, rank, world, endpoints, timeoutMs,
                slotFloats);
    }

    private interface RankWork {
        float[][] run(int rank, SharedMemoryAllReduce exchange);
    }

    /** Runs {@code work} on every rank of a world in its own thread with its own mapping; returns each rank's result. */
    private List<float[][]> onEveryRank(int world, int slotFloats, RankWork work) throws Exception {
        List<Future<float[][]>> ranks = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            int rank = r;
            ranks.add(pool.submit(() -> {
                try (SharedMemoryAllReduce exchange = new SharedMemoryAllReduce(
                        config(rank, world, 1, TIMEOUT_MS, slotFloats), () -> 1)) {
                    return work.run(rank, exchange);
                }
            }));
        }
        List<float[][]> results = new ArrayList<>();
        for (Future<float[][]> rank : ranks) {
            results.add(rank.get());
        }
        return results;
    }

    /** Slots of 64 values force several rounds per call; 16M is the default (one round for all these sizes). */
    @ParameterizedTest
    @CsvSource({"2, 64", "3, 64", "2, 16777216", "3, 16777216"})
    void everyRankGetsTheRankOrderSumBitForBitOverConsecutiveCalls(int world, int slotFloats) throws Exception {
        int[] sizes = {0, 1, 5, 64, 65, 1000, 300_001};
        float[][][] inputs = new float[world][sizes.length][];
        Random random = new Random(7);
        for (int r = 0; r < world; r++) {
            for (int s = 0; s < sizes.length; s++) {
                inputs[r][s] = new float[sizes[s]];
                for (int i = 0; i < sizes[s]; i++) {
                    inputs[r][s][i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(7) - 3));
                }
            }
        }
        List<float[][]> results = onEveryRank(world, slotFloats, (rank, exchange) -> {
            float[][] out = new float[sizes.length][];
            for (int s = 0; s < sizes.length; s++) {
                out[s] = inputs[rank][s].clone();
                exchange.allReduce(out[s], s);
            }
            return out;
        });
        for (int s = 0; s < sizes.length; s++) {
            float[] expected = new float[sizes[s]];
            for (int i = 0; i < sizes[s]; i++) {
                float acc = inputs[0][s][i];
                for (int r = 1; r < world; r++) {
                    acc += inputs[r][s][i];
                }
                expected[i] = acc;
            }
            for (int r = 0; r < world; r++) {
                assertArrayEquals(expected, results.get(r)[s], "rank " + r + ", size " + sizes[s]);
            }
        }
        assertFalse(Files.exists(config(0, world, 1, TIMEOUT_MS, slotFloats).file()), "rank 0 deletes the file");
    }

    /** The two halves a hierarchical all-reduce uses: a sum only rank 0 reads, then rank 0's buffer to all. */
    @ParameterizedTest
    @CsvSource({"2, 64", "3, 64", "3, 16777216"})
    void rankZeroAloneReadsTheSumAndItsBroadcastReachesEveryRank(int world, int slotFloats) throws Exception {
        float[][] inputs = new float[world][];
        Random random = new Random(11);
        for (int r = 0; r < world; r++) {
            inputs[r] = new float[1000];
            for (int i = 0; i < inputs[r].length; i++) {
                inputs[r][i] = (float) random.nextGaussian();
            }
        }
        List<float[][]> ranks = onEveryRank(world, slotFloats, (rank, exchange) -> {
            float[] reduced = inputs[rank].clone();
            exchange.reduceToRankZero(reduced, 0);
            float[] broadcast = rank == 0 ? reduced.clone() : new float[reduced.length];
            if (rank == 0) {
                broadcast[0] += 1;                                       // rank 0 may change it before sending
            }
            exchange.broadcastFromRankZero(broadcast, 0);
            float[] after = inputs[rank].clone();
            exchange.allReduce(after, 1);                                // rounds of both kinds interleave safely
            return new float[][] {reduced, broadcast, after};
        });
        float[] sum = new float[1000];
        for (int i = 0; i < sum.length; i++) {
            float acc = inputs[0][i];
            for (int r = 1; r < world; r++) {
                acc += inputs[r][i];
            }
            sum[i] = acc;
        }
        float[] sent = sum.clone();
        sent[0] += 1;
        for (int r = 0; r < world; r++) {
            float[][] got = ranks.get(r);
            assertArrayEquals(r == 0 ? sum : inputs[r], got[0], "rank " + r + ": only rank 0 reads the sum");
            assertArrayEquals(sent, got[1], "rank " + r + " receives rank 0's buffer");
            assertArrayEquals(sum, got[2], "rank " + r + ": an all-reduce after a broadcast");
        }
    }

    @Test
    void aNewerGenerationReleasesARankWaitingForItsPeers() throws Exception {
        AtomicLong newest = new AtomicLong(4);
        Future<Throwable> waiting = pool.submit(() -> {
            try (SharedMemoryAllReduce exchange = new SharedMemoryAllReduce(config(0, 2, 4, TIMEOUT_MS, 64), newest::get)) {
                exchange.allReduce(new float[10], 3);
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        Thread.sleep(300);
        assertFalse(waiting.isDone(), "rank 0 waits for rank 1's contribution");
        newest.set(5);
        GenerationChangedException e = assertInstanceOf(GenerationChangedException.class, waiting.get(),
                "a newer generation, not the 60 s timeout, ends the wait");
        assertEquals(4, e.generation());
        assertEquals(5, e.newest());
    }

    @Test
    void aRankWhoseRankZeroNeverCameGivesUpOnTheNextGeneration() throws Exception {
        AtomicLong newest = new AtomicLong(2);
        Future<Throwable> joining = pool.submit(() -> {
            try (SharedMemoryAllReduce exchange = new SharedMemoryAllReduce(config(1, 2, 2, TIMEOUT_MS, 64), newest::get)) {
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        Thread.sleep(300);
        assertFalse(joining.isDone(), "rank 1 waits for rank 0's file");
        newest.set(3);
        assertInstanceOf(GenerationChangedException.class, joining.get());
    }

    @Test
    void aPeerThatNeverContributesEndsTheCallAtTheTimeoutNamingWhatWasAwaited() {
        try (SharedMemoryAllReduce exchange = new SharedMemoryAllReduce(config(0, 3, 1, 300, 64), () -> 1)) {
            ExchangeTimeoutException e = assertThrows(ExchangeTimeoutException.class,
                    () -> exchange.allReduce(new float[5], 9));
            assertEquals(9, e.step());
            assertTrue(e.getMessage().contains("contributions (rank 1)"), e.getMessage());
        }
    }

    @Test
    void ranksAtDifferentStepsAreRefusedRatherThanSummed() throws Exception {
        List<Future<Throwable>> ranks = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            int rank = r;
            ranks.add(pool.submit(() -> {
                try (SharedMemoryAllReduce exchange = new SharedMemoryAllReduce(config(rank, 2, 1, TIMEOUT_MS, 64), () -> 1)) {
                    exchange.allReduce(new float[8], 10 + rank);
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            }));
        }
        for (Future<Throwable> f : ranks) {
            Throwable t = f.get();
            assertInstanceOf(IllegalStateException.class, t);
            assertTrue(t.getMessage().contains("out of step"), t.getMessage());
        }
    }

    @Test
    void aFileThatIsNotThisGenerationsIsRefusedWithTheFix() throws Exception {
        Path file = config(1, 2, 1, TIMEOUT_MS, 64).file();
        Files.write(file, new byte[8192]);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> new SharedMemoryAllReduce(config(1, 2, 1, TIMEOUT_MS, 64), () -> 1));
        assertTrue(e.getMessage().contains("is not this generation's") && e.getMessage().contains("delete it"),
                e.getMessage());
    }

    @Test
    void theFileIsNamedByJobGenerationAndMembersSoAnotherIncarnationNeverMeetsIt() {
        Path a = config(0, 2, 1, TIMEOUT_MS, 64).file();
        assertEquals(a, config(1, 2, 1, TIMEOUT_MS, 64).file(), "every rank of a generation names the same file");
        assertTrue(!a.equals(config(0, 2, 2, TIMEOUT_MS, 64).file()));
        SharedMemoryAllReduce.Config otherMembers = new SharedMemoryAllReduce.Config(directory, "job-a", 1, 0, 2,
                List.of("aeron:ipc?alias=inbox-7", "aeron:ipc?alias=inbox-8"), TIMEOUT_MS, 64);
        assertTrue(!a.equals(otherMembers.file()));
    }
}
