package io.ringformer.worker;

import io.aeron.Aeron;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ringformer.protocol.CheckpointManifest;
import io.ringformer.protocol.CheckpointRegistry;
import io.ringformer.protocol.Generation;
import io.ringformer.protocol.JobSpec;
import io.ringformer.protocol.JobStatus;
import io.ringformer.protocol.JobStatusNode;
import io.ringformer.protocol.WorkerInfo;
import io.ringformer.protocol.WorkerSession;
import io.ringformer.protocol.ZkConnection;
import io.ringformer.protocol.ZkLayout;
import io.ringformer.worker.checkpoint.CheckpointStore;
import io.ringformer.worker.exchange.ExchangeTimeoutException;
import io.ringformer.worker.exchange.MediaDriverHost;
import io.ringformer.worker.exchange.RingAllReduce;
import io.ringformer.worker.exchange.Wire;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.curator.framework.CuratorFramework;

/**
 * The worker role: one replica in a job.
 *
 * <ol>
 *   <li>Starts its own Aeron media driver and opens its inbox on {@code bind}:0 (the OS picks the port); or,
 *       when the host runs one driver for all its workers, opens an IPC inbox on that driver.</li>
 *   <li>Reads the job spec from ZooKeeper and registers an ephemeral node holding its host, inbox endpoint and
 *       device ({@link WorkerSession}).</li>
 *   <li>Waits for a generation that names it: its position is its rank, the member order is the ring.</li>
 *   <li>Trains ({@link TrainingRun}) with a {@link RingAllReduce} over the members' endpoints; rank 0 writes the
 *       run directory, publishes each checkpoint's manifest ({@link CheckpointRegistry}) and the job status.</li>
 * </ol>
 * Failure: a member that dies makes the others' all-reduce time out after {@code exchange.timeout_ms}; this
 * worker then reports the failure, leaves its last checkpoint as it was, and exits with 1. Re-forming the ring
 * at the next generation without a restart is not built yet; {@code --resume} restarts from the checkpoint.
 */
public final class Worker {

    /** How to reach the job and where to train. */
    /**
     * @param aeronDirectory a media driver this host already runs (then the inbox is IPC, as for workers sharing
     *                       one machine), or null to start one of its own and receive over UDP on {@code bindAddress}
     */
    public record Options(ZkConnection zooKeeper, String job, String id, String bindAddress, String device,
                          Path runDirectory, boolean resume, boolean force, long rendezvousTimeoutMs, String aeronDirectory) {}

    private final Options options;
    private final TrainingRun.Listener listener;
    private final Consumer<String> log;

    public Worker(Options options, TrainingRun.Listener listener, Consumer<String> log) {
        this.options = options;
        this.listener = listener;
        this.log = log;
    }

    /** Runs the job to its end; returns the process exit code. */
    public int run() throws Exception {
        ZkLayout layout = new ZkLayout(options.job());
        boolean sharedDriver = options.aeronDirectory() != null;
        try (MediaDriverHost driver = sharedDriver ? null : MediaDriverHost.start();
             Aeron aeron = sharedDriver
                     ? Aeron.connect(new Aeron.Context().aeronDirectoryName(options.aeronDirectory()))
                     : driver.connect();
             RingAllReduce.Inbox inbox = RingAllReduce.Inbox.open(aeron, sharedDriver ? "aeron:ipc"
                     : "aeron:udp?endpoint=" + options.bindAddress() + ":0");
             CuratorFramework client = options.zooKeeper().newClient()) {
            client.start();
            JobSpec spec = awaitSpec(client, layout);
            TrainConfig config = TrainConfig.parse(spec.configYaml(), "the job spec of '" + options.job() + "'");
            BlockingQueue<Generation> generations = new LinkedBlockingQueue<>();
            WorkerInfo info = new WorkerInfo(InetAddress.getLocalHost().getHostName(), inbox.endpoint(),
                    options.device(), WorkerInfo.State.JOINING, spec.jobToken());
            try (WorkerSession session = new WorkerSession(client, layout, options.id(), info, generations::offer)) {
                session.start();
                Generation generation = awaitMembership(generations);
                int rank = generation.rankOf(options.id());
                RingAllReduce.Config ring = new RingAllReduce.Config(options.job(), generation.number(), rank,
                        generation.worldSize(), generation.endpoints(), config.getInt("exchange.timeout_ms"),
                        Wire.valueOf(config.getString("exchange.wire").toUpperCase(Locale.ROOT)));
                log.accept("worker " + options.id() + ": rank " + rank + " of " + generation.worldSize()
                        + " in generation " + generation.number());
                session.updateState(WorkerInfo.State.TRAINING);
                JobStatusNode status = new JobStatusNode(client, layout);
                try (RingAllReduce exchange = new RingAllReduce(aeron, inbox, ring)) {
                    TrainingRun.Listener published = publishing(listener, new CheckpointRegistry(client, layout),
                            status, generation.worldSize(), spec.configSha256());
                    TrainingRun.Outcome outcome = new TrainingRun(config, options.runDirectory(), published, log)
                            .run(options.resume(), options.force(), exchange);
                    if (rank == 0) {
                        status.update(s -> s.withStep(outcome.steps(), outcome.lastLoss())
                                .withState(JobStatus.State.FINISHED, "trained to step " + outcome.steps()));
                    } else {
                        awaitEnd(status); // leaving first would look like a failure to the coordinator
                    }
                    return 0;
                } catch (ExchangeTimeoutException e) {
                    String why = "rank " + rank + ": " + e.getMessage() + " — a worker died or stalled; the last "
                            + "checkpoint is intact, restart the job with --resume";
                    log.accept(why);
                    status.update(s -> s.withState(JobStatus.State.FAILED, why));
                    return 1;
                } finally {
                    session.updateState(WorkerInfo.State.LEAVING);
                }
            }
        }
    }

    /**
     * The listener, plus: each checkpoint rank 0 writes is published in ZooKeeper (manifest with every file's
     * SHA-256, read back from the checkpoint's own manifest.json) and the job status follows the steps.
     */
    private TrainingRun.Listener publishing(TrainingRun.Listener inner, CheckpointRegistry registry,
                                            JobStatusNode status, int worldSize, String configSha256) {
        return new TrainingRun.Listener() {
            @Override
            public void started(long firstStep, long lastStep, int parameters) {
                inner.started(firstStep, lastStep, parameters);
            }

            @Override
            public void stepped(Trainer.StepResult result, double tokensPerSecond) {
                inner.stepped(result, tokensPerSecond);
                try {
                    status.update(s -> s.withStep(result.step() + 1, result.loss()));
                } catch (Exception e) {
                    log.accept("could not update the job status in ZooKeeper: " + e.getMessage());
                }
            }

            @Override
            public void evaluated(long step, double trainLoss, double valLoss) {
                inner.evaluated(step, trainLoss, valLoss);
            }

            @Override
            public void checkpointed(Path checkpoint) {
                inner.checkpointed(checkpoint);
                try {
                    Map<?, ?> manifest = new ObjectMapper().readValue(
                            checkpoint.resolve(CheckpointStore.MANIFEST).toFile(), Map.class);
                    Map<String, String> files = new TreeMap<>();
                    ((Map<?, ?>) manifest.get("files")).forEach((name, entry) ->
                            files.put((String) name, (String) ((Map<?, ?>) entry).get("sha256")));
                    registry.publish(new CheckpointManifest(CheckpointStore.stepOf(checkpoint),
                            checkpoint.toAbsolutePath().toString(), worldSize, configSha256, files));
                    status.update(s -> s.withCheckpoint(checkpoint.toAbsolutePath().toString()));
                } catch (Exception e) {
                    log.accept("checkpoint " + checkpoint + " is on disk but could not be published in ZooKeeper: "
                            + e.getMessage());
                }
            }
        };
    }

    private static void awaitEnd(JobStatusNode status) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline && status.read().map(s -> !s.ended()).orElse(true)) {
            Thread.sleep(50);
        }
    }

    private JobSpec awaitSpec(CuratorFramework client, ZkLayout layout) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(options.rendezvousTimeoutMs());
        while (client.checkExists().forPath(layout.spec()) == null) {
            if (System.nanoTime() > deadline) {
                throw new ConfigException("job '" + options.job() + "' has no spec in ZooKeeper at "
                        + options.zooKeeper().connectString() + "; start its coordinator with --config first");
            }
            Thread.sleep(100);
        }
        return JobSpec.decode(client.getData().forPath(layout.spec()));
    }

    private Generation awaitMembership(BlockingQueue<Generation> generations) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(options.rendezvousTimeoutMs());
        while (true) {
            long left = deadline - System.nanoTime();
            Generation generation = generations.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
            if (generation == null) {
                throw new IllegalStateException("worker " + options.id() + " was not admitted to job '"
                        + options.job() + "' within " + options.rendezvousTimeoutMs() + " ms; is its coordinator"
                        + " running, and are enough workers registered?");
            }
            if (generation.rankOf(options.id()) >= 0) {
                return generation;
            }
        }
    }
}
