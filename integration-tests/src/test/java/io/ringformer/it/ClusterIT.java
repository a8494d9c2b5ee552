package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster pieces as separate processes — a standalone ZooKeeper, coordinators, workers with media drivers of
 * their own talking UDP on 127.0.0.1 — joined, failed, resumed and failed over.
 */
class ClusterIT {

    static List<String> config(int steps, String dataPath) {
        return config(steps, dataPath, 20, 2);
    }

    /** Evaluations change nothing a step computes; frequent, long ones only slow the steps down. */
    static List<String> config(int steps, String dataPath, int evalInterval, int evalIters) {
        return List.of("--config", "../configs/gpt-char-tiny.yaml", "--set", "data.path=" + dataPath,
                "--set", "train.max_iters=" + steps, "--set", "train.batch_size=12", "--set", "eval.interval=" + evalInterval,
                "--set", "eval.iters=" + evalIters, "--set", "checkpoint.interval=20", "--set", "log.interval=1");
    }

    static String zooKeeper(List<Job> jobs, Path dir) throws Exception {
        Job zk = Job.start(dir.resolve("zookeeper.log"), "zookeeper", "--port", "0");
        jobs.add(zk);
        return zk.await("ZooKeeper serving at (\\S+)", 60).group(1);
    }

    static Job coordinator(List<Job> jobs, Path log, String zk, String job, int steps, String data, int min, int max) {
        return coordinator(jobs, log, zk, job, config(steps, data), min, max);
    }

    static Job coordinator(List<Job> jobs, Path log, String zk, String job, List<String> config, int min, int max,
                           String... extra) {
        List<String> args = new ArrayList<>(List.of("coordinator", "--zk", zk, "--job", job, "--min-workers", "" + min,
                "--max-workers", "" + max));
        args.addAll(config);
        args.addAll(List.of(extra));
        if (!args.contains("--settle-ms")) {
            args.addAll(List.of("--settle-ms", "0"));          // generation 1 as soon as min workers are there
        }
        Job c = Job.start(log, args.toArray(String[]::new));
        jobs.add(c);
        return c;
    }

    static Job worker(List<Job> jobs, Path log, Path directory, String zk, String job, String id, Path out,
                      boolean resume, String... extra) {
        List<String> args = new ArrayList<>(List.of("worker", "--zk", zk, "--job", job, "--id", id, "--out",
                out.toString(), "--rendezvous-timeout-ms", "60000"));
        if (resume) {
            args.add("--resume");
        }
        args.addAll(List.of(extra));
        Job w = Job.start(log, directory, args.toArray(String[]::new));
        jobs.add(w);
        return w;
    }

    static void closeAll(List<Job> jobs) {
        for (int i = jobs.size() - 1; i >= 0; i--) {
            jobs.get(i).close();
        }
    }

    static float[] oneProcess(Path dir, int steps) throws Exception {
        return oneProcess(dir, steps, config(steps, Cli.mobyDick().toString()));
    }

    static float[] oneProcess(Path dir, int steps, List<String> config) throws Exception {
        List<String> args = new ArrayList<>(List.of("train", "--out", dir.resolve("one").toString(), "--sample", "0"));
        args.addAll(config);
        Cli.run(dir.resolve("one.log"), 0, 300, args.toArray(String[]::new));
        return Job.parameters(dir.resolve("one"), steps);
    }

    @Test
    @Timeout(300)
    void aWorkerThatCannotStartFailsTheJobWithinSecondsAndNothingHangs(@TempDir Path dir) throws Exception {
        List<Job> jobs = new ArrayList<>();
        try {
            String zk = zooKeeper(jobs, dir);
            String relative = "../data/moby-dick.txt";   // exists from integration-tests/, not from the temp dir
            Job coordinator = coordinator(jobs, dir.resolve("coordinator.log"), zk, "broken", 20, relative, 3, 3);
            Job w0 = worker(jobs, dir.resolve("w0.log"), null, zk, "broken", "w0", dir.resolve("run"), false);
            Job w1 = worker(jobs, dir.resolve("w1.log"), null, zk, "broken", "w1", dir.resolve("run"), false);
            Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
            Job w2 = worker(jobs, dir.resolve("w2.log"), elsewhere, zk, "broken", "w2", dir.resolve("run"), false);
            String w2Out = w2.awaitExit(2, 120);
            long failedAt = System.nanoTime();
            assertTrue(w2Out.contains("data file not found"), w2Out);
            String out = coordinator.awaitExit(1, 30);
            assertTrue(out.contains("failed") && out.contains("worker w2") && out.contains("data file not found"), out);
            for (Job w : List.of(w0, w1)) {
                assertTrue(w.process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), w.output());
                assertNotEquals(0, w.process.exitValue(), w.output());
                assertTrue(w.output().contains("worker w2: data file not found"), w.output());
            }
            System.out.printf("a worker without its data: the job and every process ended %.1f s after it failed%n",
                    (System.nanoTime() - failedAt) / 1e9);
        } finally {
            closeAll(jobs);
        }
    }

    @Test
    @Timeout(900)
    void aCheckpointOfTwoWorkersResumesOnThreeWhenOnlyRankZerosDiskHoldsIt(@TempDir Path dir) throws Exception {
        float[] uninterrupted = oneProcess(dir, 40);
        String data = Cli.mobyDick().toString();
        List<Job> jobs = new ArrayList<>();
        try {
            String zk = zooKeeper(jobs, dir);
            Job first = coordinator(jobs, dir.resolve("c1.log"), zk, "first", 20, data, 2, 2);
            worker(jobs, dir.resolve("a1.log"), null, zk, "first", "a", dir.resolve("disk-a"), false);
            worker(jobs, dir.resolve("b1.log"), null, zk, "first", "b", dir.resolve("disk-b"), false);
            first.awaitExit(0, 300);
            assertTrue(Files.isDirectory(dir.resolve("disk-a/checkpoints/step-00000020")));
            assertTrue(Files.notExists(dir.resolve("disk-b/checkpoints")));

            Job second = coordinator(jobs, dir.resolve("c2.log"), zk, "second", 40, data, 3, 3);
            Job a = worker(jobs, dir.resolve("a2.log"), null, zk, "second", "a", dir.resolve("disk-a"), true);
            Job b = worker(jobs, dir.resolve("b2.log"), null, zk, "second", "b", dir.resolve("disk-b"), true);
            Job c = worker(jobs, dir.resolve("c2w.log"), null, zk, "second", "c", dir.resolve("disk-c"), true);
            second.awaitExit(0, 300);
            for (Job w : List.of(a, b, c)) {
                w.awaitExit(0, 60);
            }
            assertTrue(b.output().contains("no checkpoint to resume here"), b.output());
            assertTrue(a.output().contains("in step with the others at step 20 (state from rank 0, 2 rank(s)"),
                    a.output());
            List<String> hashes = new ArrayList<>();
            for (Job w : List.of(a, b, c)) {
                hashes.addAll(w.stateHashes());
            }
            assertEquals(3, hashes.size());
            assertEquals(1, hashes.stream().distinct().count(), "members' states differ: " + hashes);
            double difference = TrainingJobIT.maxDifference(uninterrupted, Job.parameters(dir.resolve("disk-a"), 40));
            System.out.printf("2 workers to step 20, then 3 to step 40: max |Δθ| against one process = %.3g%n",
                    difference);
            assertTrue(difference < 1e-5, "parameters differ by " + difference);
        } finally {
            closeAll(jobs);
        }
    }

    @Test
    @Timeout(900)
    void aWorkerJoinsARunningJobAndEveryMemberEndsIdentical(@TempDir Path dir) throws Exception {
        // an evaluation of 60 batches before every step slows the steps (not their arithmetic) so that the joiner,
        // whose JVM needs seconds to start, joins within a few dozen steps (fp32 summation-order drift grows with
        // the steps: 2 workers against 1 differ by ~1e-2 after 400 steps, with or without a join)
        int steps = 40;
        List<String> config = config(steps, Cli.mobyDick().toString(), 1, 30);
        float[] uninterrupted = oneProcess(dir, steps, config);
        List<Job> jobs = new ArrayList<>();
        try {
            String zk = zooKeeper(jobs, dir);
            Job coordinator = coordinator(jobs, dir.resolve("c.log"), zk, "grow", config, 2, 3);
            Job a = worker(jobs, dir.resolve("a.log"), null, zk, "grow", "a", dir.resolve("run"), false);
            worker(jobs, dir.resolve("b.log"), null, zk, "grow", "b", dir.resolve("run"), false);
            a.await("rank 0 of 2 in generation 1", 120);
            Job c = worker(jobs, dir.resolve("c.log"), null, zk, "grow", "c", dir.resolve("run"), false);
            long started = System.nanoTime();
            c.await("rank 2 of 3: in step with the others at step (\\d+) \\(state from rank \\d+", 120);
            System.out.printf("a joiner: %.1f s from its start to its first step with the others; the members "
                    + "stalled %s ms (from the new generation to their next step)%n",
                    (System.nanoTime() - started) / 1e9,
                    a.await("recovered: step \\d+ done at \\d+ ms since the epoch, (\\d+) ms after the ring broke", 60)
                            .group(1));
            coordinator.awaitExit(0, 600);
            List<String> hashes = new ArrayList<>();
            for (Job w : jobs.subList(2, 5)) {
                w.awaitExit(0, 60);
                hashes.addAll(w.stateHashes());
            }
            assertEquals(3, hashes.size());
            assertEquals(1, hashes.stream().distinct().count(), "members' states differ: " + hashes);
            double difference = TrainingJobIT.maxDifference(uninterrupted, Job.parameters(dir.resolve("run"), steps));
            System.out.printf("2 workers, then 3 after a join: max |Δθ| against one process after %d steps = %.3g%n",
                    steps, difference);
            assertTrue(difference < 1e-5, "parameters differ by " + difference);
        } finally {
            closeAll(jobs);
        }
    }

    @Test
    @Timeout(900)
    void theStandbyCoordinatorLeadsWhenTheActiveOneIsKilled(@TempDir Path dir) throws Exception {
        String data = Cli.mobyDick().toString();
        List<Job> jobs = new ArrayList<>();
        try {
            String zk = zooKeeper(jobs, dir);
            // all three in generation 1 (sorted: a is rank 0), then the job may shrink to two
            Job active = coordinator(jobs, dir.resolve("active.log"), zk, "failover", config(800, data), 2, 3,
                    "--settle-ms", "20000");
            Job a = worker(jobs, dir.resolve("a.log"), null, zk, "failover", "a", dir.resolve("run"), false);
            worker(jobs, dir.resolve("b.log"), null, zk, "failover", "b", dir.resolve("run"), false);
            Job c = worker(jobs, dir.resolve("c.log"), null, zk, "failover", "c", dir.resolve("run"), false);
            int generation = Integer.parseInt(a.await("rank 0 of 3 in generation (\\d+)", 120).group(1));
            Job standby = coordinator(jobs, dir.resolve("standby.log"), zk, "failover", config(800, data), 2, 3,
                    "--settle-ms", "20000");
            standby.await("standing by", 60);
            a.await("^step 50/", 120);
            long killedAt = System.nanoTime();
            Job.kill(active.process.toHandle());
            Job.kill(c.process.toHandle());            // a change only a leading coordinator can act on
            a.await("rank 0 of 2 in generation " + (generation + 1), 60);
            System.out.printf("coordinator failover: the next generation written %.1f s after the active coordinator "
                    + "and a worker were killed (4 s coordinator session)%n", (System.nanoTime() - killedAt) / 1e9);
            String out = standby.awaitExit(0, 600);
            assertTrue(out.contains("finished"), out);
        } finally {
            closeAll(jobs);
        }
    }

    @Test
    @Timeout(900)
    void aZooKeeperRestartWithinTheSessionTimeoutChangesNothing(@TempDir Path dir) throws Exception {
        String data = Cli.mobyDick().toString();
        Path zkData = dir.resolve("zookeeper-data");
        List<Job> jobs = new ArrayList<>();
        try {
            Job zk = Job.start(dir.resolve("zookeeper.log"), "zookeeper", "--port", "0", "--data", zkData.toString());
            jobs.add(zk);
            String connect = zk.await("ZooKeeper serving at (\\S+)", 60).group(1);
            String port = connect.substring(connect.lastIndexOf(':') + 1);
            // 10 s sessions: the restart must fit in them from every client's point of view, on a loaded machine too
            String[] session = {"--session-timeout-ms", "10000"};
            Job coordinator = coordinator(jobs, dir.resolve("c.log"), connect, "blip", config(600, data), 3, 3,
                    session);
            List<Job> workers = new ArrayList<>();
            for (String id : List.of("a", "b", "c")) {
                workers.add(worker(jobs, dir.resolve(id + ".log"), null, connect, "blip", id, dir.resolve("run"),
                        false, session));
            }
            Job again = Job.start(dir.resolve("zookeeper-again.log"), "zookeeper", "--port", port, "--data",
                    zkData.toString(), "--await-port");          // the replacement, started before the restart
            jobs.add(again);
            again.await("waiting for", 60);
            workers.get(0).await("^step 100/", 180);
            long stoppedAt = System.nanoTime();
            Job.kill(zk.process.toHandle());
            again.await("ZooKeeper serving at", 60);
            System.out.printf("ZooKeeper was down for %.1f s (10 s sessions)%n",
                    (System.nanoTime() - stoppedAt) / 1e9);
            coordinator.awaitExit(0, 600);
            for (Job w : workers) {
                String out = w.awaitExit(0, 60);
                assertTrue(!out.contains("generation 2"), "a new generation after the restart:\n" + out);
            }
            assertEquals(1, workers.stream().flatMap(w -> w.stateHashes().stream()).distinct().count());
        } finally {
            closeAll(jobs);
        }
    }

    @Test
    @Timeout(900)
    void belowTheMinimumTheJobCheckpointsWaitsABoundedTimeAndResumesLater(@TempDir Path dir) throws Exception {
        float[] uninterrupted = oneProcess(dir, 40);
        String data = Cli.mobyDick().toString();
        List<Job> jobs = new ArrayList<>();
        try {
            String zk = zooKeeper(jobs, dir);
            Job coordinator = coordinator(jobs, dir.resolve("c.log"), zk, "short", config(40, data), 2, 2,
                    "--pause-timeout-ms", "5000");
            Job a = worker(jobs, dir.resolve("a.log"), null, zk, "short", "a", dir.resolve("run"), false);
            Job b = worker(jobs, dir.resolve("b.log"), null, zk, "short", "b", dir.resolve("run"), false);
            a.await("^step 12/", 120);
            Job.kill(b.process.toHandle());
            String paused = a.await("paused at step (\\d+) with 1 worker", 60).group(1);
            String out = coordinator.awaitExit(1, 60);
            assertTrue(out.contains("only 1 of at least 2 workers") && out.contains("--resume"), out);
            a.awaitExit(1, 30);
            Path checkpoint = dir.resolve("run/checkpoints/step-" + String.format("%08d", Integer.parseInt(paused)));
            assertTrue(Files.isDirectory(checkpoint), "no checkpoint at the paused step " + paused);

            Job again = coordinator(jobs, dir.resolve("c2.log"), zk, "short-again", 40, data, 2, 2);
            Job a2 = worker(jobs, dir.resolve("a2.log"), null, zk, "short-again", "a", dir.resolve("run"), true);
            worker(jobs, dir.resolve("b2.log"), null, zk, "short-again", "b", dir.resolve("run"), true);
            again.awaitExit(0, 300);
            assertTrue(a2.output().contains("resumed from") && a2.output().contains("at step " + paused), a2.output());
            double difference = TrainingJobIT.maxDifference(uninterrupted, Job.parameters(dir.resolve("run"), 40));
            System.out.printf("paused at step %s below the minimum, failed after 5 s, resumed: max |Δθ| against one "
                    + "process = %.3g%n", paused, difference);
            assertTrue(difference < 1e-5, "parameters differ by " + difference);
        } finally {
            closeAll(jobs);
        }
    }
}
