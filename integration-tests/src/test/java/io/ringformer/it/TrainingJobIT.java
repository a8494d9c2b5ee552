package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.launch.PredictNextCommand;
import io.ringformer.worker.checkpoint.CheckpointStore;
import java.io.File;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code ringformer train --workers N}: real worker JVMs meeting through an embedded ZooKeeper and all-reducing
 * over Aeron. Data parallelism must not change the arithmetic: N workers on a global batch end with the
 * parameters of one process on the same batch.
 */
class TrainingJobIT {

    static final int STEPS = 20;

    static String[] train(Path out, int workers) {
        return train(out, workers, "fused");
    }

    static String[] train(Path out, int workers, String backend, String... more) {
        String[] args = {"train", "--config", "../configs/gpt-char-tiny.yaml", "--workers", "" + workers,
                "--out", out.toString(), "--sample", "0", "--set", "data.path=" + Cli.mobyDick(),
                "--set", "model.backend=" + backend,
                "--set", "train.max_iters=" + STEPS, "--set", "train.batch_size=12", "--set", "checkpoint.interval=" + STEPS,
                "--set", "eval.interval=" + STEPS, "--set", "eval.iters=2"};
        return java.util.stream.Stream.concat(Arrays.stream(args), Arrays.stream(more)).toArray(String[]::new);
    }

    static float[] finalParameters(Path run) {
        return finalParameters(run, STEPS);
    }

    static float[] finalParameters(Path run, int step) {
        return CheckpointStore.load(run.resolve("checkpoints").resolve(String.format("step-%08d", step)))
                .state().params();
    }

    static double maxDifference(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    /**
     * Each backend with one transport: the fused one sums in shared memory, the SameDiff one over the Aeron ring
     * (IPC); and the fused one over the ring in buckets of 4 KiB that go out as the backward pass completes them.
     */
    @ParameterizedTest
    @CsvSource({"fused, auto, shared memory, 0", "samediff, ring, Aeron ring, 0", "fused, ring, Aeron ring, 4096"})
    @Timeout(900)
    void twoAndThreeWorkersEndWithTheParametersOfOneProcess(String backend, String transport, String says,
                                                            int bucketBytes, @TempDir Path dir) throws Exception {
        String oneLog = Cli.run(dir.resolve("one.log"), 0, 300, train(dir.resolve("one"), 1, backend));
        assertTrue(oneLog.contains("model backend: " + backend), oneLog);
        float[] one = finalParameters(dir.resolve("one"));
        for (int workers : new int[] {2, 3}) {
            Path run = dir.resolve("workers-" + workers);
            String log = Cli.run(dir.resolve(workers + ".log"), 0, 300, train(run, workers, backend, "--set",
                    "exchange.transport=" + transport, "--set", "exchange.bucket_bytes=" + bucketBytes));
            assertTrue(log.contains("rank 0 of " + workers + " in generation 1, " + says), log);
            double difference = maxDifference(one, finalParameters(run));
            System.out.printf("%s, %s, buckets of %d bytes, %d workers vs one process after %d steps: max |Δθ| = "
                    + "%.3g%n", backend, transport, bucketBytes, workers, STEPS, difference);
            assertTrue(difference < 1e-5, workers + " workers: parameters differ by " + difference);
        }
    }

    @Test
    @Timeout(600)
    void twoWorkersTrainSampleAndLeaveNothingBehind(@TempDir Path dir) throws Exception {
        Set<String> shmBefore = sharedMemory();
        Path run = dir.resolve("run");
        String out = Cli.run(dir.resolve("train.log"), 0, 300, train(run, 2));
        assertTrue(out.contains("rank 0 of 2 in generation 1, shared memory") && out.contains("rank 1 of 2"), out);
        assertTrue(out.contains("checkpoint " + run.resolve("checkpoints")), out);
        String text = Cli.run(dir.resolve("generate.log"), 0, 120, "generate", "--checkpoint", run.toString(),
                "--prompt", "The whale", "--tokens", "50", "--seed", "5");
        assertTrue(text.contains("The whale") && text.strip().length() >= 50, text);
        // predict-next's likeliest token is the one greedy decoding picks, and the probabilities fall.
        String greedy = Cli.run(dir.resolve("greedy.log"), 0, 120, "generate", "--checkpoint", run.toString(),
                "--prompt", "The whal", "--tokens", "1", "--temperature", "0");
        String table = Cli.run(dir.resolve("predict.log"), 0, 120, "predict-next", "--checkpoint", run.toString(),
                "--text", "The whal", "--top", "3");
        List<String> rows = table.lines().filter(l -> l.startsWith("'")).collect(Collectors.toList());
        assertEquals(3, rows.size(), table);
        int after = greedy.indexOf("The whal") + "The whal".length();
        String picked = PredictNextCommand.printable(greedy.substring(after, after + 1));
        assertTrue(rows.get(0).startsWith(picked + " "), "greedy picked " + picked + ", predict-next says\n" + table);
        double[] probabilities = rows.stream().mapToDouble(r -> Double.parseDouble(r.substring(r.lastIndexOf("'") + 1)
                .strip().split("\\s+")[0])).toArray();
        assertTrue(probabilities[0] >= probabilities[1] && probabilities[1] >= probabilities[2]
                && probabilities[0] + probabilities[1] + probabilities[2] <= 1.0001 && probabilities[2] > 0, table);

        List<ProcessHandle> left = ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().map(c -> c.contains(run.toString())).orElse(false))
                .collect(Collectors.toList());
        assertTrue(left.isEmpty(), "processes left behind: " + left);
        Set<String> shmAfter = sharedMemory();
        shmAfter.removeAll(shmBefore);
        assertTrue(shmAfter.isEmpty(), "/dev/shm directories left behind: " + shmAfter);
    }

    static Set<String> sharedMemory() {
        String[] names = new File("/dev/shm").list((d, name) -> name.startsWith("ringformer-"));
        return names == null ? new java.util.HashSet<>() : new java.util.HashSet<>(Arrays.asList(names));
    }
}
