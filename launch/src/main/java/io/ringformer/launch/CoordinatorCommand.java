package io.ringformer.launch;

import io.ringformer.coordinator.Coordinator;
import io.ringformer.protocol.Generation;
import io.ringformer.protocol.JobSpec;
import io.ringformer.protocol.JobStatus;
import io.ringformer.protocol.JobStatusNode;
import io.ringformer.protocol.ZkConnection;
import io.ringformer.protocol.ZkLayout;
import io.ringformer.worker.TrainConfig;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ringformer coordinator}: submits the job (once; a second coordinator with the same config joins as a
 * standby) and runs the rendezvous and generations until the job has finished or failed.
 */
@Command(name = "coordinator", mixinStandardHelpOptions = true,
        description = "Submit a job and coordinate its workers (a second one is a standby).")
public final class CoordinatorCommand implements Callable<Integer> {

    @Option(names = "--zk", required = true, paramLabel = "HOSTS", description = "ZooKeeper, host:port[,…].")
    String zooKeeper;

    @Option(names = "--job", required = true, description = "Job name.")
    String job;

    @Mixin
    ConfigOptions config;

    @Option(names = "--min-workers", defaultValue = "1", description = "Fewest workers to train with (default ${DEFAULT-VALUE}).")
    int minWorkers;

    @Option(names = "--max-workers", description = "Most workers in a generation (default: --min-workers).")
    Integer maxWorkers;

    @Option(names = "--settle-ms", defaultValue = "2000",
            description = "How long to wait for more than --min-workers (default ${DEFAULT-VALUE}).")
    long settleMs;

    @Option(names = "--pause-timeout-ms", defaultValue = "60000",
            description = "How long the job may stay below --min-workers (its members checkpointed and waiting) "
                    + "before it fails (default ${DEFAULT-VALUE}).")
    long pauseTimeoutMs;

    @Option(names = "--session-timeout-ms", defaultValue = "4000",
            description = "The coordinator's ZooKeeper session: how long after it goes silent a standby takes the "
                    + "lead (default ${DEFAULT-VALUE}).")
    int sessionTimeoutMs;

    @Mixin
    ZkAuthOption zkAuth;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "The job's token (workers prove it; frames are authenticated with it): read from FILE "
                    + "(mode 0600), or generated and written there if FILE does not exist. Default: generated, kept "
                    + "only in ZooKeeper.")
    Path tokenFile;

    @Option(names = "--metrics-port", defaultValue = "-1", paramLabel = "PORT",
            description = "Serve the job's metrics in the Prometheus text format on this port (0: any free one; "
                    + "default off).")
    int metricsPort;

    @Option(names = "--metrics-bind", defaultValue = "127.0.0.1", paramLabel = "ADDRESS",
            description = "Address the metrics are served on (default ${DEFAULT-VALUE}).")
    String metricsBind;

    @Override
    public Integer call() throws Exception {
        zkAuth.apply();
        TrainConfig settings = config.load();
        ZkLayout layout = new ZkLayout(job);
        try (CuratorFramework client = ZkConnection.of(zooKeeper, sessionTimeoutMs).newClient()) {
            client.start();
            String token = tokenFile != null ? JobToken.of(tokenFile) : JobToken.generate();
            JobSpec spec = JobSpec.of(token, settings.getInt("train.batch_size"), minWorkers,
                    maxWorkers == null ? minWorkers : maxWorkers, settleMs, settings.toYaml());
            Optional<JobSpec> submitted = submitted(client, layout);
            if (submitted.isPresent() && submitted.get().configSha256().equals(spec.configSha256())) {
                System.out.println("job '" + job + "' is already submitted with this config: standing by");
            } else {
                Coordinator.submit(client, layout, spec);
            }
            try (Coordinator coordinator = new Coordinator(client, layout, "coordinator-" + ProcessHandle.current().pid(),
                    pauseTimeoutMs);
                 CoordinatorMetrics metrics = metricsPort < 0 ? null
                         : new CoordinatorMetrics(metricsBind, metricsPort, coordinator, System.out::println)) {
                coordinator.start();
                System.out.println("coordinator of job '" + job + "' at " + zooKeeper + " (leader when elected)");
                JobStatusNode status = new JobStatusNode(client, layout);
                while (true) {
                    Optional<JobStatus> now = status.read();
                    if (metrics != null) {
                        metrics.saw(generation(client, layout), now.orElse(null));
                    }
                    if (now.isPresent() && now.get().ended()) {
                        System.out.println("job " + job + " " + now.get().state().json() + ": " + now.get().detail());
                        return switch (now.get().state()) {
                            case FINISHED -> 0;
                            case STOPPED -> 130;
                            default -> 1;
                        };
                    }
                    Thread.sleep(500);
                }
            }
        }
    }

    private static Generation generation(CuratorFramework client, ZkLayout layout) throws Exception {
        try {
            return Generation.decode(client.getData().forPath(layout.generation()));
        } catch (KeeperException.NoNodeException e) {
            return null;
        }
    }

    private static Optional<JobSpec> submitted(CuratorFramework client, ZkLayout layout) throws Exception {
        try {
            return Optional.of(JobSpec.decode(client.getData().forPath(layout.spec())));
        } catch (KeeperException.NoNodeException e) {
            return Optional.empty();
        }
    }
}
