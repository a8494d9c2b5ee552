package io.ringformer.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three hosts made of network namespaces (needs root: {@link Hosts}), one worker each with its own media driver,
 * all-reducing over real UDP between their addresses; ZooKeeper and the coordinator in the root namespace on the
 * bridge. One host's link is cut: it is dropped from the job and the others go on; its link comes back: it rejoins,
 * takes the others' state and the job ends with all three identical.
 */
class HostsIT {

    static final String AUTH = "hosts-it:" + Long.toHexString(new java.security.SecureRandom().nextLong());

    @Test
    @Timeout(900)
    void aHostCutOffIsDroppedAndRejoinsWhenItComesBack(@TempDir Path dir) throws Exception {
        List<Job> jobs = new ArrayList<>();
        try (Hosts hosts = new Hosts(3)) {
            String zk = zooKeeper(hosts, dir, jobs);
            // evaluations slow the steps (not their arithmetic) so that the cut and the return fit in the run
            Job coordinator = coordinator(zk, "hosts", 3, 300, dir, jobs);                  // all three at the start
            List<Job> workers = new ArrayList<>();
            for (int host = 1; host <= 3; host++) {
                Job worker = Job.startBehind(hosts.on(host), dir.resolve("h" + host + ".log"), "worker", "--zk", zk,
                        "--job", "hosts", "--id", "h" + host, "--bind", hosts.address(host), "--out",
                        dir.resolve("disk-" + host).toString(), "--rendezvous-timeout-ms", "120000", "--zk-auth", AUTH);
                jobs.add(worker);
                workers.add(worker);
            }
            Job first = workers.get(0);
            int generation = Integer.parseInt(first.await("rank 0 of 3 in generation (\\d+)", 180).group(1));
            first.await("^step 20/", 180);
            hosts.cut(3);
            long cutAt = System.nanoTime();
            first.await("rank 0 of 2 in generation " + (generation + 1), 60);
            System.out.printf("host 3 cut off: the next generation, without it, after %.1f s%n",
                    (System.nanoTime() - cutAt) / 1e9);
            int before = stepOf(first);
            first.await("^step " + (before + 5) + "/", 60);   // the others go on
            hosts.restore(3);
            long restoredAt = System.nanoTime();
            workers.get(2).await("worker h3: rank 2 of 3 in generation", 120);
            // it receives the state; so does a survivor that was a step behind when the ring broke
            workers.get(2).await("in step with the others at step \\d+ \\(state from rank \\d+, [12] rank", 60);
            System.out.printf("host 3 back: in step with the others %.1f s after its link came up%n",
                    (System.nanoTime() - restoredAt) / 1e9);
            coordinator.awaitExit(0, 600);
            assertSameStates(workers);
        } finally {
            closeAll(jobs);
        }
    }

    /**
     * Two hosts of two workers each, every host with one media driver its workers share: the hierarchical all-reduce
     * (shared memory within a host, UDP between the hosts' leaders). A worker of host 2 is killed mid-run: the
     * three survivors abort the round in flight, regroup (host 2's survivor now leads it alone) and finish with
     * identical states.
     */
    @Test
    @Timeout(900)
    void aWorkerKilledUnderTheHierarchicalAllReduceLeavesTheOthersTraining(@TempDir Path dir) throws Exception {
        List<Job> jobs = new ArrayList<>();
        try (Hosts hosts = new Hosts(2)) {
            String zk = zooKeeper(hosts, dir, jobs);
            Job coordinator = coordinator(zk, "tiers", 4, 200, dir, jobs);
            List<Job> workers = new ArrayList<>();
            for (int host = 1; host <= 2; host++) {
                String driverDirectory = "/dev/shm/ringformer-tiers-it-host" + host;
                Job driver = Job.startBehind(hosts.on(host), dir.resolve("driver-" + host + ".log"), "media-driver",
                        "--dir", driverDirectory);
                jobs.add(driver);
                driver.await("media driver ready at", 60);
                for (int i = 1; i <= 2; i++) {
                    String id = "h" + host + "w" + i;
                    Job worker = Job.startBehind(hosts.on(host), dir.resolve(id + ".log"), "worker", "--zk", zk,
                            "--job", "tiers", "--id", id, "--bind", hosts.address(host), "--aeron-dir",
                            driverDirectory, "--inbox", "udp", "--out", dir.resolve("disk-" + id).toString(),
                            "--rendezvous-timeout-ms", "120000", "--zk-auth", AUTH);
                    jobs.add(worker);
                    workers.add(worker);
                }
            }
            Job first = workers.get(0);
            first.await("rank 0 of 4 in generation \\d+, hierarchical over 2 hosts", 180);
            first.await("^step 20/", 180);
            // a loaded machine may have cost a worker its session before this (a generation of three, then four
            // again): only what follows the kill counts
            int firstSeen = first.output().length();
            int secondSeen = workers.get(2).output().length();
            Job.kill(workers.get(3).process.toHandle());
            first.await("rank 0 of 3 in generation \\d+, hierarchical over 2 hosts", 60, firstSeen);
            workers.get(2).await("rank \\d of 3 in generation \\d+, hierarchical over 2 hosts", 60, secondSeen);
            coordinator.awaitExit(0, 600);
            assertSameStates(workers.subList(0, 3));           // the survivors
        } finally {
            closeAll(jobs);
        }
    }

    /** Every worker ends with exit 0 and prints its final state hash, the same for all. */
    private static void assertSameStates(List<Job> workers) throws InterruptedException {
        List<String> hashes = new ArrayList<>();
        for (Job worker : workers) {
            worker.awaitExit(0, 60);
            hashes.addAll(worker.stateHashes());
        }
        assertEquals(workers.size(), hashes.size(), String.join("\n", hashes));
        assertEquals(1, hashes.stream().distinct().count(), "members' states differ: " + hashes);
    }

    /** Stops the jobs, the last started first. */
    private static void closeAll(List<Job> jobs) {
        for (int i = jobs.size() - 1; i >= 0; i--) {
            jobs.get(i).close();
        }
    }

    /**
     * A ZooKeeper on the bridge, with credentials: beyond loopback every process needs them (the job's znodes get
     * digest ACLs). Returns its address.
     */
    private static String zooKeeper(Hosts hosts, Path dir, List<Job> jobs) throws Exception {
        Job zooKeeper = Job.start(dir.resolve("zookeeper.log"), "zookeeper", "--port", "0", "--bind",
                hosts.bridgeAddress(), "--zk-auth", AUTH);
        jobs.add(zooKeeper);
        return zooKeeper.await("ZooKeeper serving at (\\S+)", 60).group(1);
    }

    /** The coordinator of a job of 2 to {@code maxWorkers} workers (20 s for all to register), one evaluation batch. */
    private static Job coordinator(String zk, String job, int maxWorkers, int steps, Path dir, List<Job> jobs) {
        List<String> args = new ArrayList<>(List.of("coordinator", "--zk", zk, "--job", job, "--min-workers", "2",
                "--max-workers", "" + maxWorkers, "--settle-ms", "20000", "--zk-auth", AUTH));
        args.addAll(ClusterIT.config(steps, Cli.mobyDick().toString(), 1, 8));
        Job coordinator = Job.start(dir.resolve("coordinator.log"), args.toArray(String[]::new));
        jobs.add(coordinator);
        return coordinator;
    }

    /** The latest step rank 0's progress shows. */
    private static int stepOf(Job job) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^step (\\d+)/").matcher(job.output());
        int step = 0;
        while (m.find()) {
            step = Integer.parseInt(m.group(1));
        }
        return step;
    }
}
