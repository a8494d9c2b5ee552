package io.ringformer.launch;

import io.ringformer.protocol.Generation;
import io.ringformer.protocol.JobSpec;
import io.ringformer.protocol.JobStatus;
import io.ringformer.protocol.JobStatusNode;
import io.ringformer.protocol.WorkerInfo;
import io.ringformer.protocol.ZkConnection;
import io.ringformer.protocol.ZkLayout;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ringformer status}: one screen on a job, from ZooKeeper: its state, step, loss and throughput, the
 * generation's members with their hosts and states, workers waiting to join, the last checkpoint and the last event.
 * With {@code --watch} the screen is redrawn every {@code --interval-ms} until the job ends (or Ctrl-C).
 */
@Command(name = "status", mixinStandardHelpOptions = true, description = "Show a job's state.")
public final class StatusCommand implements Callable<Integer> {

    private static final String CLEAR_SCREEN = "\033[H\033[2J";

    @Option(names = "--zk", required = true, paramLabel = "HOSTS", description = "ZooKeeper, host:port[,…].")
    String zooKeeper;

    @Option(names = "--job", required = true, description = "Job name.")
    String job;

    @Option(names = "--watch", description = "Redraw the screen until the job ends.")
    boolean watch;

    @Option(names = "--interval-ms", defaultValue = "2000", paramLabel = "MS",
            description = "With --watch, the time between screens (default ${DEFAULT-VALUE}).")
    long intervalMs;

    @Mixin
    ZkAuthOption zkAuth;

    @Override
    public Integer call() throws Exception {
        if (intervalMs < 100) {
            throw new UsageException("--interval-ms must be at least 100");
        }
        zkAuth.apply();
        ZkLayout layout = new ZkLayout(job);
        try (CuratorFramework client = ZkConnection.of(zooKeeper, 4000).newClient()) {
            client.start();
            if (client.checkExists().forPath(layout.spec()) == null) {
                throw new UsageException("no job '" + job + "' in ZooKeeper at " + zooKeeper);
            }
            while (true) {
                Screen screen = read(client, layout);
                System.out.print((watch ? CLEAR_SCREEN : "") + screen.text());
                System.out.flush();
                if (!watch || screen.ended()) {
                    return 0;
                }
                Thread.sleep(intervalMs);
            }
        }
    }

    private record Screen(String text, boolean ended) {}

    private Screen read(CuratorFramework client, ZkLayout layout) throws Exception {
        StringBuilder out = new StringBuilder();
        JobSpec spec = JobSpec.decode(client.getData().forPath(layout.spec()));   // NoAuth without its credentials
        out.append(String.format("job %s: config %s…, %d–%d workers, global batch %d%n", job,
                spec.configSha256().substring(0, 12), spec.minWorkers(), spec.maxWorkers(), spec.globalBatch()));
        Optional<JobStatus> status = new JobStatusNode(client, layout).read();
        status.ifPresent(s -> out.append(String.format("state %s, step %d, loss %.4f, %s/s%n", s.state().json(),
                s.lastStep(), s.lastLoss(), Double.isNaN(s.itemsPerSecond()) ? "—"
                        : String.format("%,.0f items", s.itemsPerSecond()))));
        List<String> registered = client.checkExists().forPath(layout.workers()) == null ? List.of()
                : client.getChildren().forPath(layout.workers()).stream().sorted().toList();
        byte[] generation = client.checkExists().forPath(layout.generation()) == null ? null
                : client.getData().forPath(layout.generation());
        if (generation == null) {
            out.append(String.format("waiting for workers (no generation yet)%n"));
        } else {
            Generation g = Generation.decode(generation);
            out.append(String.format("generation %d%s, world size %d, started at step %d%n", g.number(),
                    g.paused() ? " (paused)" : "", g.worldSize(), g.startStep()));
            out.append(String.format("  rank  %-16s %-20s %-9s %-6s %s%n", "worker", "host", "state", "device",
                    "rows"));
            for (int rank = 0; rank < g.worldSize(); rank++) {
                String id = g.members().get(rank);
                Optional<WorkerInfo> info = worker(client, layout, id);
                out.append(String.format("  %4d  %-16s %-20s %-9s %-6s %d+%d%n", rank, id,
                        info.map(WorkerInfo::host).orElse("—"), info.map(w -> w.state().json()).orElse("gone"),
                        info.map(WorkerInfo::device).orElse("—"), g.shard(rank).first(), g.shard(rank).count()));
            }
            registered = registered.stream().filter(id -> !g.members().contains(id)).toList();
        }
        for (String id : registered) {
            Optional<WorkerInfo> info = worker(client, layout, id);
            out.append(String.format("  not in the generation: %s on %s (%s)%n", id,
                    info.map(WorkerInfo::host).orElse("—"), info.map(w -> w.state().json()).orElse("gone")));
        }
        status.ifPresent(s -> {
            out.append(String.format("last checkpoint: %s%n", s.lastCheckpoint().isBlank() ? "none"
                    : s.lastCheckpoint()));
            out.append(String.format("last event: %s%n", s.lastEvent().isBlank() ? "none" : s.lastEvent()));
            if (!s.detail().isBlank()) {
                out.append(String.format("detail: %s%n", s.detail()));
            }
        });
        return new Screen(out.toString(), status.map(JobStatus::ended).orElse(false));
    }

    /** A worker's registration; empty when its ephemeral node went away between listing and reading. */
    private static Optional<WorkerInfo> worker(CuratorFramework client, ZkLayout layout, String id) throws Exception {
        try {
            return Optional.of(WorkerInfo.decode(client.getData().forPath(layout.worker(id))));
        } catch (KeeperException.NoNodeException gone) {
            return Optional.empty();
        }
    }
}
