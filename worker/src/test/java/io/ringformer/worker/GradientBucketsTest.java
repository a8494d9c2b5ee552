package io.ringformer.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.worker.exchange.GenerationChangedException;
import io.ringformer.worker.exchange.GradientExchange;
import io.ringformer.worker.exchange.SharedMemoryAllReduce;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The all-reduce overlapped with the backward pass: real trainers (the fused GPT) in threads, summing through a real
 * shared-memory all-reduce. Shared memory sums every value in rank order whatever the call, so bucketed and
 * unbucketed training must end with the same bits.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class GradientBucketsTest {

    private static final int STEPS = 4;

    @Test
    void bucketedTrainingEndsWithTheBitsOfOneAllReducePerStep() throws Exception {
        for (int world : new int[] {2, 3}) {
            Result whole = train(world, 0);
            Result bucketed = train(world, 1024);
            assertEquals(world * STEPS, whole.calls, "one all-reduce per step and rank without buckets");
            assertTrue(bucketed.calls > 3 * world * STEPS, "several buckets per step: " + bucketed.calls);
            for (int r = 0; r < world; r++) {
                assertArrayEquals(whole.parameters.get(r), bucketed.parameters.get(r), "world " + world + ", rank " + r);
                assertArrayEquals(bucketed.parameters.get(0), bucketed.parameters.get(r), "ranks agree");
            }
        }
    }

    @Test
    void theFirstFailureEndsTheStepOnTheTrainersThreadAndTheNextStepGoesOn() {
        AtomicInteger calls = new AtomicInteger();
        GradientExchange failingOnce = new GradientExchange() {
            public int rank() { return 0; }
            public int worldSize() { return 2; }
            public void allReduce(float[] buffer, long step) {
                if (calls.incrementAndGet() == 2) {
                    throw new GenerationChangedException(0, step, 1, 2);
                }
                for (int i = 0; i < buffer.length; i++) {
                    buffer[i] *= 2;                                   // a world of two equal ranks
                }
            }
        };
        GradientBuckets buckets = new GradientBuckets(failingOnce, 4);
        float[] buffer = new float[20];
        java.util.Arrays.fill(buffer, 1f);
        buckets.begin(buffer, 7);
        for (int offset = 0; offset < 16; offset += 4) {
            buckets.completed(offset, 4);
        }
        GenerationChangedException e = assertThrows(GenerationChangedException.class, buckets::finish);
        assertEquals(2, e.newest());
        assertEquals(2, calls.get(), "the buckets after the failure are skipped, not sent");

        java.util.Arrays.fill(buffer, 1f);
        buckets.begin(buffer, 8);
        buckets.completed(4, 8);
        buckets.finish();
        for (float value : buffer) {
            assertEquals(2f, value, "every value summed once, told or not");
        }
        assertEquals(4, calls.get(), "two buckets: the told range, then the rest");
    }

    private record Result(List<float[]> parameters, int calls) {}

    /** {@code world} trainers in threads, {@link #STEPS} steps, through one shared-memory file; all-reduces counted. */
    private static Result train(int world, int bucketBytes) throws Exception {
        Path directory = Files.createTempDirectory(Path.of("/dev/shm"), "ringformer-buckets-test-");
        ExecutorService pool = Executors.newFixedThreadPool(world);
        AtomicInteger calls = new AtomicInteger();
        try {
            List<Future<float[]>> ranks = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                ranks.add(pool.submit(() -> {
                    List<String> endpoints = IntStream.range(0, world).mapToObj(i -> "aeron:ipc?alias=inbox-" + i).toList();
                    try (SharedMemoryAllReduce shared = new SharedMemoryAllReduce(new SharedMemoryAllReduce.Config(
                            directory, "buckets", 1, rank, world, endpoints, 60_000, 1 << 16), () -> 1)) {
                        GradientExchange counted = new GradientExchange() {
                            public int rank() { return shared.rank(); }
                            public int worldSize() { return shared.worldSize(); }
                            public void allReduce(float[] buffer, long step) {
                                calls.incrementAndGet();
                                shared.allReduce(buffer, step);
                            }
                        };
                        Trainer trainer = TrainerTest.trainer(TrainerTest.tiny("model.backend=fused",
                                "train.batch_size=12", "exchange.bucket_bytes=" + bucketBytes), counted, m -> { });
                        for (int s = 0; s < STEPS; s++) {
                            trainer.trainStep();
                        }
                        return trainer.parameters().clone();
                    }
                }));
            }
            List<float[]> parameters = new ArrayList<>();
            for (Future<float[]> rank : ranks) {
                parameters.add(rank.get());
            }
            return new Result(parameters, calls.get());
        } finally {
            pool.shutdownNow();
            try (var files = Files.list(directory)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(directory);
        }
    }
}
