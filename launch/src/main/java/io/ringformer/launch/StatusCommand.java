package io.ringformer.launch;

import io.ringformer.protocol.Generation;
import io.ringformer.protocol.JobSpec;
import io.ringformer.protocol.JobStatus;
import io.ringformer.protocol.JobStatusNode;
import io.ringformer.protocol.ZkConnection;
import io.ringformer.protocol.ZkLayout;
import java.util.concurrent.Callable;
import org.apache.curator.framework.CuratorFramework;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ringformer status}: a job's generation, members, step, loss and last checkpoint, from ZooKeeper. */
@Command(name = "status", mixinStandardHelpOptions = true, description = "Show a job's state.")
public final class StatusCommand implements Callable<Integer> {

    @Option(names = "--zk", required = true, paramLabel = "HOSTS", description = "ZooKeeper, host:port[,…].")
    String zooKeeper;

    @Option(names = "--job", required = true, description = "Job name.")
    String job;

    @Mixin
    ZkAuthOption zkAuth;

    @Override
    public Integer call() throws Exception {
        zkAuth.apply();
        ZkLayout layout = new ZkLayout(job);
        try (CuratorFramework client = ZkConnection.of(zooKeeper, 4000).newClient()) {
            client.start();
            if (client.checkExists().forPath(layout.spec()) == null) {
                throw new UsageException("no job '" + job + "' in ZooKeeper at " + zooKeeper);
            }
            JobSpec spec = JobSpec.decode(client.getData().forPath(layout.spec()));   // NoAuth without its credentials
            System.out.println("job " + job + ": config " + spec.configSha256().substring(0, 12) + "…, "
                    + spec.minWorkers() + "–" + spec.maxWorkers() + " workers, global batch " + spec.globalBatch());
            byte[] generation = client.checkExists().forPath(layout.generation()) == null ? null
                    : client.getData().forPath(layout.generation());
            if (generation == null) {
                System.out.println("job " + job + ": waiting for workers (no generation yet)");
            } else {
                Generation g = Generation.decode(generation);
                System.out.println("job " + job + ": generation " + g.number() + ", world size " + g.worldSize()
                        + ", started at step " + g.startStep());
                for (int rank = 0; rank < g.worldSize(); rank++) {
                    System.out.printf("  rank %d  %-16s %s  rows %d+%d%n", rank, g.members().get(rank),
                            g.endpoint(rank), g.shard(rank).first(), g.shard(rank).count());
                }
            }
            JobStatus status = new JobStatusNode(client, layout).read().orElse(null);
            if (status != null) {
                System.out.printf("state %s, step %d, loss %.4f, last checkpoint %s%s%n", status.state().json(),
                        status.lastStep(), status.lastLoss(), status.lastCheckpoint(),
                        status.detail().isBlank() ? "" : " (" + status.detail() + ")");
            }
            return 0;
        }
    }
}
