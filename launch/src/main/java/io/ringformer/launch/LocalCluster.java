package io.ringformer.launch;

import io.ringformer.coordinator.Coordinator;
import io.ringformer.coordinator.EmbeddedZooKeeper;
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
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;

/**
 * {@code ringformer train --workers N} on one machine: an embedded ZooKeeper on 127.0.0.1, a coordinator and one
 * Aeron media driver in this process, and N worker JVMs (one thread each) that find each other through ZooKeeper
 * and all-reduce over IPC through the shared driver. Rank 0's progress is the view;
 * the others stay quiet. At the end, or when one worker fails, or on Ctrl-C, every worker is stopped and the
 * /dev/shm directories of their media drivers are removed.
 */
final class LocalCluster {

    private LocalCluster() {}

    static int train(TrainConfig config, Path runDirectory, int workers, boolean resume, boolean force) throws Exception {
        String job = "local-" + ProcessHandle.current().pid();
        ZkLayout layout = new ZkLayout(job);
        List<Process> processes = new ArrayList<>();
        Thread stopper = new Thread(() -> ChildJvm.stopAll(processes));
        try (EmbeddedZooKeeper zooKeeper = new EmbeddedZooKeeper();
             MediaDriverHost driver = MediaDriverHost.start()) {   // one driver for the host: workers talk IPC
            zooKeeper.start();
            ZkConnection connection = ZkConnection.of(zooKeeper.connectString(), 4000);
            try (CuratorFramework client = connection.newClient()) {
                client.start();
                Coordinator.submit(client, layout, JobSpec.of(UUID.randomUUID().toString(),
                        config.getInt("train.batch_size"), workers, workers, 0, config.toYaml()));
                try (Coordinator coordinator = new Coordinator(client, layout, "coordinator-" + job)) {
                    coordinator.start();
                    Runtime.getRuntime().addShutdownHook(stopper);
                    for (int i = 0; i < workers; i++) {
                        List<String> arguments = new ArrayList<>(List.of("worker", "--zk", zooKeeper.connectString(),
                                "--job", job, "--id", String.format("w%02d", i), "--out", runDirectory.toString(),
                                "--aeron-dir", driver.directory()));
                        if (resume) {
                            arguments.add("--resume");
                        }
                        if (force) {
                            arguments.add("--force");
                        }
                        processes.add(ChildJvm.start(arguments, "4g", null));
                    }
                    int exit = awaitAll(processes);
                    JobStatus status = new JobStatusNode(client, layout).read().orElse(null);
                    if (exit != 0 && status != null && !status.detail().isBlank()) {
                        System.err.println("ringformer: job failed: " + status.detail());
                    }
                    return exit;
                }
            }
        } finally {
            ChildJvm.stopAll(processes);
            for (Process p : processes) {
                removeMediaDriverDirectories(p.pid());
            }
            try {
                Runtime.getRuntime().removeShutdownHook(stopper);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it stops the workers itself
            }
        }
    }

    /** Waits for every worker; when one fails, stops the rest (they would only time out). */
    private static int awaitAll(List<Process> processes) throws InterruptedException {
        int exit = 0;
        List<Process> running = new ArrayList<>(processes);
        while (!running.isEmpty()) {
            for (Process p : List.copyOf(running)) {
                if (p.waitFor(200, TimeUnit.MILLISECONDS)) {
                    running.remove(p);
                    if (p.exitValue() != 0 && exit == 0) {
                        exit = p.exitValue();
                        ChildJvm.stopAll(running);
                    }
                }
            }
        }
        return exit;
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
