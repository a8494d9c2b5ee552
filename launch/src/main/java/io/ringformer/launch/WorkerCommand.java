package io.ringformer.launch;

import io.ringformer.protocol.ZkConnection;
import io.ringformer.worker.Worker;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ringformer worker}: one replica of a job; see {@link Worker} for what it does. */
@Command(name = "worker", mixinStandardHelpOptions = true, description = "Join a job as a worker.")
public final class WorkerCommand implements Callable<Integer> {

    @Option(names = "--zk", required = true, paramLabel = "HOSTS", description = "ZooKeeper, host:port[,…].")
    String zooKeeper;

    @Option(names = "--job", required = true, description = "Job name.")
    String job;

    @Option(names = "--bind", defaultValue = "127.0.0.1",
            description = "Address peers reach this worker's Aeron inbox at; beyond loopback it needs ZooKeeper "
                    + "credentials (--zk-auth or RINGFORMER_ZK_AUTH) (default ${DEFAULT-VALUE}).")
    String bind;

    @Option(names = "--device", defaultValue = "cpu", description = "Device label (default ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--id", description = "Worker id, unique in the job (default: host-pid).")
    String id;

    @Option(names = "--out", paramLabel = "DIR", description = "Run directory (default: runs/<job>); rank 0 writes it.")
    Path out;

    @Option(names = "--resume", description = "Continue from the newest valid checkpoint in the run directory.")
    boolean resume;

    @Option(names = "--force", description = "With --resume: resume even when the config changes what the run "
            + "computes (seed, batch, optimizer, model, data); says so in one line.")
    boolean force;

    @Option(names = "--aeron-dir", paramLabel = "DIR",
            description = "Use the media driver this host already runs (ringformer media-driver, or train --workers "
                    + "N's) instead of starting one of its own.")
    String aeronDirectory;

    /** How peers reach this worker's inbox. */
    enum Inbox { ipc, udp }

    @Option(names = "--inbox", paramLabel = "ipc|udp",
            description = "With --aeron-dir: ipc (the default) when every worker of the job shares this host's driver, "
                    + "udp on --bind when workers on other hosts must reach this one. Without it, always udp.")
    Inbox inbox;

    @Option(names = "--inbox-port", defaultValue = "0", paramLabel = "PORT",
            description = "The UDP port of the inbox on --bind: 0 (the default) lets the OS choose one, which is "
                    + "published in ZooKeeper; a fixed port lets a firewall or a Kubernetes NetworkPolicy name it.")
    int inboxPort;

    @Option(names = "--rendezvous-timeout-ms", defaultValue = "120000",
            description = "Longest wait for the job spec and admission (default ${DEFAULT-VALUE}).")
    long rendezvousTimeoutMs;

    @Option(names = "--session-timeout-ms", defaultValue = "" + ZkConnection.DEFAULT_SESSION_TIMEOUT_MS,
            description = "This worker's ZooKeeper session: how long after it goes silent (dies, or loses ZooKeeper) "
                    + "the job drops it. Longer rides out longer ZooKeeper outages; shorter replaces a dead machine "
                    + "sooner (default ${DEFAULT-VALUE}).")
    int sessionTimeoutMs;

    @Option(names = "--metrics-port", defaultValue = "-1", paramLabel = "PORT",
            description = "Serve Prometheus metrics on http://BIND:PORT/metrics (0: any free port, printed; default "
                    + "off).")
    int metricsPort;

    @Option(names = "--metrics-bind", defaultValue = "127.0.0.1", paramLabel = "ADDRESS",
            description = "Address the metrics are served on (default ${DEFAULT-VALUE}).")
    String metricsBind;

    @Mixin
    ZkAuthOption zkAuth;

    @Override
    public Integer call() throws Exception {
        zkAuth.apply();
        if (inbox == Inbox.ipc && aeronDirectory == null) {
            throw new UsageException("--inbox ipc needs the host's shared media driver: add --aeron-dir DIR (see "
                    + "ringformer media-driver)");
        }
        boolean ipcInbox = aeronDirectory != null && inbox != Inbox.udp;
        if (inboxPort < 0 || inboxPort > 65535 || ipcInbox && inboxPort != 0) {
            throw new UsageException("--inbox-port " + inboxPort + ": give a UDP port 0 … 65535, and only with a UDP "
                    + "inbox (without --aeron-dir, or with --inbox udp)");
        }
        ListenAddress.of(bind, "--bind").requireCredentialsBeyondLoopback("this worker's Aeron inbox", "--bind");
        String workerId = id != null ? id
                : InetAddress.getLocalHost().getHostName().replace('.', '-') + "-" + ProcessHandle.current().pid();
        Path directory = out != null ? out : Path.of("runs", job);
        try (ProgressView view = new ProgressView(System.out, System.console() != null, directory)) {
            Worker.Options options = new Worker.Options(ZkConnection.of(zooKeeper, sessionTimeoutMs), job,
                    workerId, bind, device, directory, resume, force,
                    rendezvousTimeoutMs, aeronDirectory, ipcInbox, metricsBind, metricsPort, inboxPort);
            Worker worker = new Worker(options, view, view::line);
            StopSignals.install(worker::requestStop, () -> { });
            return worker.run();
        }
    }
}
