package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.worker.MetricsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ctrl-C of {@code train --workers 2} mid-run: every rank stops after the same step, one final checkpoint is
 * written and valid, nothing is left running or in /dev/shm, and {@code --resume} goes on to log exactly the
 * losses of a run that was never interrupted and to end with exactly its parameters.
 */
class StopIT {

    static final int STEPS = 60;

    static String[] train(Path out, String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("train", "--config", "../configs/gpt-char-tiny.yaml",
                "--workers", "2", "--out", out.toString(), "--sample", "0", "--set", "data.path=" + Cli.mobyDick(),
                "--set", "train.max_iters=" + STEPS, "--set", "train.batch_size=12", "--set", "eval.interval=1",
                "--set", "eval.iters=4", "--set", "checkpoint.interval=" + STEPS, "--set", "log.interval=1"));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    static Map<Long, Double> losses(Path run) {
        return MetricsFile.losses(run.resolve("metrics.jsonl"));
    }

    @Test
    @Timeout(600)
    void ctrlCStopsEveryRankAfterOneStepAndResumeReproducesTheRunBitForBit(@TempDir Path dir) throws Exception {
        Path straight = dir.resolve("straight");
        Cli.run(dir.resolve("straight.log"), 0, 300, train(straight));

        Set<String> shmBefore = TrainingJobIT.sharedMemory();
        Path run = dir.resolve("run");
        long stoppedAt;
        try (Job job = Job.start(dir.resolve("first.log"), train(run))) {
            job.await("^step 15/", 120);
            Process signal = new ProcessBuilder("kill", "-INT", Long.toString(job.process.pid())).start();
            assertEquals(0, signal.waitFor());
            String out = job.awaitExit(130, 120);
            Matcher stopped = java.util.regex.Pattern.compile("stopped by a signal after step (\\d+)").matcher(out);
            assertTrue(stopped.find(), out);
            stoppedAt = Long.parseLong(stopped.group(1));
            assertTrue(stoppedAt >= 15 && stoppedAt < STEPS, out);
            List<String> hashes = job.stateHashes();
            assertEquals(2, hashes.size(), out);
            assertEquals(hashes.get(0), hashes.get(1), "the ranks stopped in different states: " + hashes);
            assertTrue(out.contains("rank 0: state hash " + hashes.get(0) + " at step " + stoppedAt), out);
        }
        Path checkpoint = run.resolve(String.format("checkpoints/step-%08d", stoppedAt));
        assertTrue(Files.isDirectory(checkpoint), "no final checkpoint at step " + stoppedAt);
        Cli.run(dir.resolve("verify.log"), 0, 120, "checkpoints", "verify", run.toString());
        List<ProcessHandle> left = ProcessHandle.allProcesses()
                .filter(p -> Job.commandLine(p).contains(run.toString())).toList();
        assertTrue(left.isEmpty(), "processes left behind: " + left);
        Set<String> shmAfter = TrainingJobIT.sharedMemory();
        shmAfter.removeAll(shmBefore);
        assertTrue(shmAfter.isEmpty(), "/dev/shm directories left behind: " + shmAfter);

        Cli.run(dir.resolve("resume.log"), 0, 300, train(run, "--resume"));
        Map<Long, Double> expected = losses(straight);
        Map<Long, Double> actual = losses(run);
        assertEquals(STEPS, expected.size());
        assertEquals(expected.keySet(), actual.keySet(), "one history after the resume");
        for (long step = 1; step <= STEPS; step++) {
            assertEquals(expected.get(step), actual.get(step), 0.0, "loss at step " + step);
        }
        assertArrayEquals(Job.parameters(straight, STEPS), Job.parameters(run, STEPS));
        System.out.printf("Ctrl-C after step %d of %d, resumed: %d losses and every parameter bit-identical to an "
                + "uninterrupted 2-worker run%n", stoppedAt, STEPS, STEPS);
    }
}
