package io.ringformer.worker;

import io.aeron.Aeron;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ringformer.protocol.CheckpointManifest;
import io.ringformer.protocol.CheckpointRegistry;
import io.ringformer.protocol.JobSpec;
import io.ringformer.protocol.JobStatusNode;
import io.ringformer.protocol.WorkerInfo;
import io.ringformer.protocol.WorkerSession;
import io.ringformer.protocol.ZkConnection;
import io.ringformer.protocol.ZkLayout;
import io.ringformer.worker.checkpoint.CheckpointStore;
import io.ringformer.worker.exchange.FrameMac;
import io.ringformer.worker.exchange.MediaDriverHost;
import io.ringformer.worker.exchange.RingAllReduce;
import io.ringformer.worker.exchange.SharedMemoryAllReduce;
import io.ringformer.worker.exchange.Wire;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.curator.framework.CuratorFramework;

/**
 * The worker role: one replica in a job.
 *
 * <ol>
 *   <li>Starts its own Aeron media driver and opens its inbox on {@code bind}:0 (the OS picks the port); or,
 *       when the host runs one driver for all its workers, opens an IPC inbox on that driver.</li>
 *   <li>Reads the job spec, builds its replica (text, model, checkpoint when resuming), and only then registers
 *       an ephemeral node holding its host, inbox endpoint and device ({@link WorkerSession}), so that the
 *       members never wait for its model; every generation the coordinator writes reaches its
 *       {@link ElasticExchange}.</li>
 *   <li>Waits for a generation that names it: its position is its rank, the member order is the ring.</li>
 *   <li>Trains ({@link TrainingRun}) over the {@link ElasticExchange}, which re-forms the ring at every new
 *       generation and keeps the replicas identical (the protocol is narrated there). Whoever is rank 0 writes
 *       the run directory, publishes each checkpoint's manifest ({@link CheckpointRegistry}) and reports progress
 *       into the job status — off the step loop, so a slow or absent ZooKeeper never delays a step.</li>
 *   <li>At the end every member marks the job finished (after a final barrier, so rank 0's last checkpoint is
 *       on disk). Any failure of this worker marks the job failed with its cause (finished and failed are
 *       terminal: neither overwrites the other), and the exception goes on to the command line.</li>
 * </ol>
 */
public final class Worker {

    /**
     * How to reach the job and where to train.
     *
     * @param aeronDirectory a media driver this host already runs, or null to start one of its own
     * @param ipcInbox       receive over IPC (only with {@code aeronDirectory}: every worker of the job on this host,
     *                       sharing that driver), or over UDP on {@code bindAddress} (workers on several hosts)
     * @param metricsBind    the address {@link WorkerMetrics} are served on
     * @param metricsPort    their port: −1 none, 0 any free one (logged)
     * @param inboxPort      the UDP port of the inbox on {@code bindAddress}: 0 lets the OS choose (it is published in
     *                       ZooKeeper either way); a fixed one lets a firewall or NetworkPolicy name it
     */
    public record Options(ZkConnection zooKeeper, String job, String id, String bindAddress, String device,
                          Path runDirectory, boolean resume, boolean force, long rendezvousTimeoutMs,
                          String aeronDirectory, boolean ipcInbox, String metricsBind, int metricsPort, int inboxPort) {

        public Options {
            if (ipcInbox && aeronDirectory == null) {
                throw new IllegalArgumentException("an IPC inbox needs a shared media driver (an aeron directory)");
            }
            if (inboxPort < 0 || inboxPort > 65535 || ipcInbox && inboxPort != 0) {
                throw new IllegalArgumentException("the inbox port must be 0 … 65535, and 0 for an IPC inbox: "
                        + inboxPort);
            }
        }
    }

    private final Options options;
    private final TrainingRun.Listener listener;
    private final Consumer<String> log;
    private volatile TrainingRun run;
    private volatile boolean stopRequested;

    public Worker(Options options, TrainingRun.Listener listener, Consumer<String> log) {
        this.options = options;
        this.listener = listener;
        this.log = log;
    }

    /**
     * Asks this worker to stop (a signal): its vote rides on the next step's all-reduce, every member stops after
     * that step, rank 0 writes a checkpoint and the job is marked stopped. Any thread.
     */
    public void requestStop() {
        stopRequested = true;
        TrainingRun current = run;
        if (current != null) {
            current.requestStop();
        }
    }

    /** Runs the job to its end; returns the process exit code (130 when stopped by {@link #requestStop}). */
    public int run() throws Exception {
        ZkLayout layout = new ZkLayout(options.job());
        boolean sharedDriver = options.aeronDirectory() != null;
        try (MediaDriverHost driver = sharedDriver ? null : MediaDriverHost.start();
             Aeron aeron = sharedDriver
                     ? Aeron.connect(new Aeron.Context().aeronDirectoryName(options.aeronDirectory()))
                     : driver.connect();
             RingAllReduce.Inbox inbox = RingAllReduce.Inbox.open(aeron, options.ipcInbox() ? "aeron:ipc"
                     : "aeron:udp?endpoint=" + options.bindAddress() + ":" + options.inboxPort());
             CuratorFramework client = options.zooKeeper().newClient()) {
            client.start();
            JobSpec spec = awaitSpec(client, layout);
            JobStatusNode status = new JobStatusNode(client, layout);
            try (StatusReporter reporter = new StatusReporter(status, log)) {
                try {
                    TrainConfig config = TrainConfig.parse(spec.configYaml(), "the job spec of '" + options.job() + "'");
                    return train(client, layout, spec, config, aeron, inbox, reporter);
                } catch (JobFailedException e) {
                    throw e;                                  // another worker's failure, already reported
                } catch (Exception | Error e) {
                    String why = "worker " + options.id() + ": " + (e.getMessage() == null ? e.toString() : e.getMessage());
                    reporter.fail(why);
                    throw e;
                }
            }
        }
    }

    private int train(CuratorFramework client, ZkLayout layout, JobSpec spec, TrainConfig config, Aeron aeron,
                      RingAllReduce.Inbox inbox, StatusReporter reporter) throws Exception {
        Wire wire = Wire.parse(config.getString("exchange.wire"));
        Path sharedMemory = options.aeronDirectory() == null ? null
                : SharedMemoryAllReduce.directoryOf(options.aeronDirectory());
        WorkerInfo info = new WorkerInfo(InetAddress.getLocalHost().getHostName(), inbox.endpoint(),
                options.device(), sharedMemory == null ? "" : SharedMemoryAllReduce.domainOf(sharedMemory),
                WorkerInfo.State.JOINING, spec.jobToken());
        try (ElasticExchange exchange = new ElasticExchange(aeron, inbox, options.job(), options.id(),
                config.getInt("exchange.timeout_ms"), wire, FrameMac.ofToken(spec.jobToken()),
                options.rendezvousTimeoutMs(), sharedMemory, config.getString("exchange.transport"), log);
             WorkerSession session = new WorkerSession(client, layout, options.id(), info, exchange::onGeneration);
             WorkerMetrics metrics = options.metricsPort() < 0 ? null : WorkerMetrics.serve(options.metricsBind(),
                     options.metricsPort(), options.id(), exchange, log)) {
            TrainingRun.Listener published = publishing(listener, new CheckpointRegistry(client, layout), reporter,
                    exchange, spec.configSha256());
            TrainingRun run = new TrainingRun(config, options.runDirectory(), published, log);
            this.run = run;
            if (metrics != null) {
                run.alsoTell(metrics.listener());
            }
            if (stopRequested) {
                run.requestStop();
            }
            TrainingRun.Prepared prepared = run.prepare(options.resume(), options.force(), exchange);   // before the others wait on us
            reporter.onFailure(client, layout.status(), exchange::jobFailed);
            if (!options.device().equals("cpu")) {
                log.accept("worker " + options.id() + ": device " + options.device() + " (CUDA_VISIBLE_DEVICES="
                        + System.getenv("CUDA_VISIBLE_DEVICES") + ")");
            }
            session.start();
            exchange.regroup();
            session.updateState(WorkerInfo.State.TRAINING);
            TrainingRun.Outcome outcome = run.train(prepared, exchange.foundingMember());
            session.updateState(WorkerInfo.State.LEAVING);
            if (outcome.interrupted()) {
                reporter.stop(outcome.steps());
                log.accept("stopped after step " + outcome.steps() + "; continue with --resume");
                return 130;
            }
            reporter.finish(outcome.steps(), outcome.lastLoss());
            return 0;
        }
    }

    /**
     * The listener, plus: each checkpoint rank 0 writes is published in ZooKeeper (manifest with every file's
     * SHA-256, read back from the checkpoint's own manifest.json) and the job status follows the steps.
     */
    private TrainingRun.Listener publishing(TrainingRun.Listener inner, CheckpointRegistry registry,
                                            StatusReporter reporter, ElasticExchange exchange, String configSha256) {
        return new TrainingRun.Listener() {
            @Override
            public void started(long firstStep, long lastStep, int parameters, String items) {
                inner.started(firstStep, lastStep, parameters, items);
            }

            @Override
            public void stepped(Trainer.StepResult result, double tokensPerSecond) {
                inner.stepped(result, tokensPerSecond);
                reporter.progress(result.step() + 1, result.loss(), tokensPerSecond);
            }

            @Override
            public void evaluated(long step, double trainLoss, double valLoss, Map<String, Double> metrics) {
                inner.evaluated(step, trainLoss, valLoss, metrics);
            }

            @Override
            public void checkpointed(Path checkpoint, long writeMs) {
                inner.checkpointed(checkpoint, writeMs);
                try {
                    Map<?, ?> manifest = new ObjectMapper().readValue(
                            checkpoint.resolve(CheckpointStore.MANIFEST).toFile(), Map.class);
                    Map<String, String> files = new TreeMap<>();
                    ((Map<?, ?>) manifest.get("files")).forEach((name, entry) ->
                            files.put((String) name, (String) ((Map<?, ?>) entry).get("sha256")));
                    CheckpointManifest published = new CheckpointManifest(CheckpointStore.stepOf(checkpoint),
                            checkpoint.toAbsolutePath().toString(), exchange.worldSize(), configSha256, files);
                    reporter.checkpoint(registry, published);
                } catch (Exception e) {
                    log.accept("checkpoint " + checkpoint + " is on disk but could not be published in ZooKeeper: "
                            + e.getMessage());
                }
            }
        };
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

}
