package io.ringformer.launch;

import io.ringformer.coordinator.Coordinator;
import io.ringformer.coordinator.EmbeddedZooKeeper;
import io.ringformer.protocol.Generation;
import io.ringformer.protocol.JobSpec;
import io.ringformer.protocol.JobStatus;
import io.ringformer.protocol.JobStatusNode;
import io.ringformer.protocol.ZkConnection;
import io.ringformer.protocol.ZkLayout;
import io.ringformer.worker.TrainConfig;
import io.ringformer.worker.exchange.MediaDriverHost;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;

/**
 * {@code ringformer train --workers N} on one machine: an embedded ZooKeeper on 127.0.0.1, a coordinator (and
 * any standbys) and one Aeron media driver in this process, and N worker JVMs (one thread each) that find each
 * other through ZooKeeper and all-reduce over IPC through the shared driver. Rank 0's progress is the view.
 *
 * <p>Elastic: when a worker process exits without finishing, this launcher deletes its znode at once (rather
 * than waiting for its ZooKeeper session to expire), so the coordinator writes the next generation within
 * milliseconds and the survivors go on; one line says which worker, at which step, and the new world size. With
 * {@code --max-restarts K} a dead worker is started again (under a new id) and joins the running job. The job
 * ends when its status says finished or failed (a worker's failure names its cause), or when no worker is left.
 * At the end, on a failure or on Ctrl-C every worker is stopped and the media drivers' /dev/shm directories are
 * removed.
 */
final class LocalCluster {

    private static final long POLL_MS = 50;            // child processes: a dead one is seen within this
    private static final int POLLS_PER_STATUS_READ = 10; // ZooKeeper, read less often: the workers' CPU is scarce

    /**
     * How to run the job: {@code workers} at the start, restarts allowed, standby coordinators, the GPU of each
     * worker (empty: CPU workers), and the first worker's metrics port (−1 none, 0 any free one; worker i: +i).
     */
    record Plan(int workers, int minWorkers, int maxRestarts, int standbyCoordinators, boolean resume, boolean force,
                List<String> devices, int metricsPort) {}

    private final TrainConfig config;
    private final Path runDirectory;
    private final Plan plan;
    private final String job = "local-" + ProcessHandle.current().pid();
    private final ZkLayout layout = new ZkLayout(job);
    private final Map<String, Process> running = Collections.synchronizedMap(new LinkedHashMap<>());
    private final List<Process> all = new java.util.concurrent.CopyOnWriteArrayList<>();
    private int restarts;
    private volatile boolean stopping;

    private LocalCluster(TrainConfig config, Path runDirectory, Plan plan) {
        this.config = config;
        this.runDirectory = runDirectory;
        this.plan = plan;
    }

    static int train(TrainConfig config, Path runDirectory, Plan plan) throws Exception {
        return new LocalCluster(config, runDirectory, plan).run();
    }

    private int run() throws Exception {
        Thread stopper = new Thread(() -> ChildJvm.stopAll(all));
        List<Coordinator> coordinators = new ArrayList<>();
        List<CuratorFramework> clients = new ArrayList<>();
        try (EmbeddedZooKeeper zooKeeper = new EmbeddedZooKeeper();
             MediaDriverHost driver = MediaDriverHost.start()) {   // one driver for the host: workers talk IPC
            zooKeeper.start();
            try {
                return coordinateAndSupervise(zooKeeper, driver, coordinators, clients, stopper);
            } finally {
                ChildJvm.stopAll(all);
                coordinators.forEach(Coordinator::close);   // before ZooKeeper goes, so nobody sees it vanish
                clients.forEach(CuratorFramework::close);
            }
        } finally {
            ChildJvm.stopAll(all);
            for (Process p : all) {
                removeMediaDriverDirectories(p.pid());
            }
            try {
                Runtime.getRuntime().removeShutdownHook(stopper);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it stops the workers itself
            }
        }
    }

    private int coordinateAndSupervise(EmbeddedZooKeeper zooKeeper, MediaDriverHost driver,
                                   List<Coordinator> coordinators, List<CuratorFramework> clients,
                                   Thread stopper) throws Exception {
        ZkConnection connection = ZkConnection.of(zooKeeper.connectString(), 4000);
        CuratorFramework client = connection.newClient();
        clients.add(client);
        client.start();
        // The rendezvous waits (settle) until all N are there; later, a respawned worker is admitted at once
        // when it brings the job back to N.
        Coordinator.submit(client, layout, JobSpec.of(JobToken.generate(),
                config.getInt("train.batch_size"), plan.minWorkers(), plan.workers(), 60_000, config.toYaml()));
        say("ringformer: job " + job + ", ZooKeeper at " + zooKeeper.connectString() + "; watch it with: ringformer "
                + "status --watch --zk " + zooKeeper.connectString() + " --job " + job);
        Runtime.getRuntime().addShutdownHook(stopper);
        StopSignals.install(this::stopGracefully, () -> ChildJvm.killAll(all));
        // Workers first: a worker spends a second or two reading its data and building its model before it
        // registers, which is time enough for the coordinators to start.
        for (int i = 0; i < plan.workers(); i++) {
            start(String.format("w%02d", i), zooKeeper.connectString(), driver.directory(), plan.resume());
        }
        for (int c = 0; c <= plan.standbyCoordinators(); c++) {
            CuratorFramework own = c == 0 ? client : connection.newClient();
            if (c > 0) {
                clients.add(own);
                own.start();
            }
            Coordinator coordinator = new Coordinator(own, layout, "coordinator-" + job + "-" + c);
            coordinators.add(coordinator);
            coordinator.start();
        }
        return supervise(client, zooKeeper.connectString(), driver.directory());
    }

    private void start(String id, String zooKeeper, String aeronDirectory, boolean resume) {
        List<String> arguments = new ArrayList<>(List.of("worker", "--zk", zooKeeper, "--job", job, "--id", id,
                "--out", runDirectory.toString(), "--aeron-dir", aeronDirectory));
        if (resume) {
            arguments.add("--resume");
            if (plan.force()) {
                arguments.add("--force");
            }
        }
        int slot = Integer.parseInt(id.replaceFirst("-r\\d+$", "").substring(1));   // w01-r1 keeps w01's slot
        if (plan.metricsPort() >= 0) {
            arguments.addAll(List.of("--metrics-port", "" + (plan.metricsPort() == 0 ? 0 : plan.metricsPort() + slot)));
        }
        Map<String, String> environment = Map.of();
        if (!plan.devices().isEmpty()) {
            String gpu = plan.devices().get(slot);
            arguments.addAll(List.of("--device", "cuda:" + gpu));
            environment = Map.of("CUDA_VISIBLE_DEVICES", gpu);
        }
        Process process = ChildJvm.start(List.of(), arguments, "4g", null, null, environment);
        running.put(id, process);
        all.add(process);
    }

    /**
     * Watches the workers until the job ends. A worker that exits before the job has ended is reported, its znode
     * deleted (the fastest signal the coordinator can get) and, within {@code maxRestarts}, started again.
     */
    private int supervise(CuratorFramework client, String zooKeeper, String aeronDirectory) throws Exception {
        JobStatusNode status = new JobStatusNode(client, layout);
        for (long poll = 0; ; poll++) {
            if (poll % POLLS_PER_STATUS_READ == 0) {
                reportGeneration(client);
                Optional<JobStatus> now = status.read();
                if (now.isPresent() && now.get().ended()) {
                    return ended(client, now.get());
                }
            }
            for (Map.Entry<String, Process> entry : List.copyOf(running.entrySet())) {
                Process p = entry.getValue();
                if (p.isAlive()) {
                    continue;
                }
                String id = entry.getKey();
                running.remove(id);
                Optional<JobStatus> now = status.read();
                if (now.isPresent() && now.get().ended()) {
                    return ended(client, now.get());
                }
                deleteQuietly(client, layout.worker(id));
                long step = now.map(JobStatus::lastStep).orElse(-1L);
                say(String.format("ringformer: worker %s (pid %d) exited with %d%s near step %d; %d worker(s) go on",
                        id, p.pid(), p.exitValue(), signal(p.exitValue()), Math.max(0, step), running.size()));
                if (restarts < plan.maxRestarts() && !stopping) {
                    restarts++;
                    String again = id.replaceFirst("-r\\d+$", "") + "-r" + restarts;
                    say(String.format("ringformer: restarting it as %s (restart %d of %d); it joins the running job",
                            again, restarts, plan.maxRestarts()));
                    start(again, zooKeeper, aeronDirectory, false);
                }
            }
            if (running.isEmpty()) {
                Optional<JobStatus> now = status.read();
                if (now.isPresent() && now.get().ended()) {
                    return ended(client, now.get());
                }
                System.err.println("ringformer: job failed: every worker exited before the job finished; the last "
                        + "checkpoint in " + runDirectory + " is intact: continue with --resume");
                return 1;
            }
            Thread.sleep(POLL_MS);
        }
    }

    private long reportedGeneration;

    /** One line per generation after the first: its number, world size and start. */
    private void reportGeneration(CuratorFramework client) throws Exception {
        Generation generation;
        try {
            generation = Generation.decode(client.getData().forPath(layout.generation()));
        } catch (KeeperException.NoNodeException e) {
            return;
        }
        if (generation.number() > reportedGeneration) {
            if (reportedGeneration > 0) {
                say(String.format("ringformer: generation %d: %d worker(s) %s", generation.number(),
                        generation.worldSize(), generation.members()));
            }
            reportedGeneration = generation.number();
        }
    }

    /** Ctrl-C: every worker is asked to stop (SIGTERM); they agree on a step, checkpoint and mark the job stopped. */
    private void stopGracefully() {
        stopping = true;
        for (Process p : List.copyOf(running.values())) {
            p.destroy();
        }
    }

    private int ended(CuratorFramework client, JobStatus status) throws Exception {
        reportGeneration(client);                           // the last change, if the end came before its line
        if (status.state() == JobStatus.State.FINISHED || status.state() == JobStatus.State.STOPPED) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            for (Process p : List.copyOf(running.values())) {   // members leave once they have written their part
                p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            }
            if (status.state() == JobStatus.State.STOPPED) {
                System.err.println("ringformer: " + status.detail());
                return 130;
            }
            return 0;
        }
        System.err.println("ringformer: job failed: " + status.detail());
        return 1;
    }

    private static String signal(int exit) {
        return exit == 137 ? " (killed: SIGKILL)" : exit == 143 ? " (terminated: SIGTERM)" : "";
    }

    /**
     * One line on stderr in a single write: the workers write to the same terminal or log, and printf's pieces
     * could be split by a worker's line.
     */
    private static void say(String line) {
        System.err.print(line + System.lineSeparator());
    }

    private static void deleteQuietly(CuratorFramework client, String path) {
        try {
            client.delete().forPath(path);
        } catch (Exception e) {
            // gone already, or its session ends it soon
        }
    }

    /** A worker killed before it closed its driver leaves /dev/shm/ringformer-<pid>-<n> behind. */
    private static void removeMediaDriverDirectories(long pid) {
        File[] left = new File("/dev/shm").listFiles((dir, name) -> name.startsWith("ringformer-" + pid + "-"));
        if (left == null) {
            return;
        }
        for (File directory : left) {
            try (Stream<Path> walk = Files.walk(directory.toPath())) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            } catch (IOException e) {
                System.err.println("ringformer: could not remove " + directory + ": " + e.getMessage());
            }
        }
    }
}
