package io.ringformer.launch;

import io.ringformer.worker.ConfigException;
import io.ringformer.worker.RunLock;
import io.ringformer.worker.TrainConfig;
import io.ringformer.worker.TrainedModel;
import io.ringformer.worker.TrainingRun;
import io.ringformer.worker.exchange.LocalExchange;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ringformer train}: one process trains the config's model in a run directory. Ctrl-C stops after the
 * current step and writes a checkpoint; {@code --resume} continues from the newest valid one. The process holds
 * the run directory's {@link RunLock} while it trains, so a second run on the same {@code --out} is refused.
 */
@Command(name = "train", mixinStandardHelpOptions = true, description = "Train a model.")
public final class TrainCommand implements Callable<Integer> {

    @Mixin
    ConfigOptions config;

    @Option(names = "--out", paramLabel = "DIR", description = "Run directory (default: runs/<config name>).")
    Path out;

    @Option(names = "--resume", description = "Continue from the newest valid checkpoint in the run directory.")
    boolean resume;

    @Option(names = "--force", description = "With --resume: resume even when the config changes what the run "
            + "computes (seed, batch, optimizer, model, data); says so in one line.")
    boolean force;

    @Option(names = "--workers", defaultValue = "1", paramLabel = "N",
            description = "Worker processes on this machine, with an embedded ZooKeeper and a coordinator "
                    + "(default ${DEFAULT-VALUE}: train in this process).")
    int workers;

    @Option(names = "--min-workers", defaultValue = "1", paramLabel = "N",
            description = "With --workers: fewest workers the job goes on with after losing some (default "
                    + "${DEFAULT-VALUE}).")
    int minWorkers;

    @Option(names = "--max-restarts", defaultValue = "0", paramLabel = "K",
            description = "With --workers: how many times a dead worker is started again; it rejoins the running "
                    + "job (default ${DEFAULT-VALUE}).")
    int maxRestarts;

    @Option(names = "--standby-coordinators", defaultValue = "0", paramLabel = "K",
            description = "With --workers: coordinators waiting to take over from the active one (default "
                    + "${DEFAULT-VALUE}).")
    int standbyCoordinators;

    @Option(names = "--devices", split = ",", paramLabel = "GPU",
            description = "With --workers: one GPU per worker, in order (e.g. 0,1,2,3): worker i sees only its own "
                    + "(CUDA_VISIBLE_DEVICES) and registers as cuda:<GPU>. launch/multi-gpu.sh passes it.")
    List<String> devices = List.of();

    @Option(names = "--metrics-port", defaultValue = "-1", paramLabel = "PORT",
            description = "With --workers: worker i serves Prometheus metrics on http://127.0.0.1:PORT+i/metrics "
                    + "(0: each on any free port, printed; default off).")
    int metricsPort;

    @Option(names = "--sample", defaultValue = "300", paramLabel = "N",
            description = "Characters to sample at the end, for a model that generates text (default "
                    + "${DEFAULT-VALUE}; 0 for none).")
    int sample;

    @Mixin
    ZkAuthOption zkAuth;

    @Override
    public Integer call() throws Exception {
        zkAuth.apply();                                // --workers N: its ZooKeeper clients and workers use them
        TrainConfig settings = config.load();
        Path directory = out != null ? out : Path.of("runs", config.name());
        if (force && !resume) {
            throw new ConfigException("--force only applies with --resume");
        }
        if (workers < 1) {
            throw new UsageException("--workers must be at least 1");
        }
        if (workers > 1) {
            TrainingRun.checkInputs(settings, workers);   // data and memory, before any process starts
            if (!devices.isEmpty() && devices.size() != workers) {
                throw new UsageException("--devices names " + devices.size() + " GPU(s) for " + workers
                        + " workers: give one per worker");
            }
            if (minWorkers < 1 || minWorkers > workers || maxRestarts < 0 || standbyCoordinators < 0) {
                throw new UsageException("--min-workers must be 1 … --workers, --max-restarts and "
                        + "--standby-coordinators at least 0");
            }
            int exit;
            try (RunLock lock = RunLock.acquire(directory, System.err::println)) {   // the launcher owns the run
                exit = LocalCluster.train(settings, directory.toAbsolutePath(),
                        new LocalCluster.Plan(workers, minWorkers, maxRestarts, standbyCoordinators, resume, force,
                                devices, metricsPort));
            }
            if (exit == 0 && sample > 0) {
                TrainedModel model = TrainedModel.load(directory, System.err::println);
                if (model.generatesText()) {
                    System.out.println("sample:\n" + model.generate("\n", sample, 0.8, 0, 1));
                }
            }
            return exit;
        }
        ProgressView view = new ProgressView(System.out, System.console() != null, directory);
        TrainingRun run = new TrainingRun(settings, directory, view, view::line);
        StopSignals.install(run::requestStop, () -> { });
        TrainingRun.Outcome outcome;
        try (view; RunLock lock = RunLock.acquire(directory, view::line)) {
            outcome = run.run(resume, force, new LocalExchange());
        }
        if (outcome.interrupted()) {
            view.line("stopped at step " + outcome.steps() + "; continue with --resume");
            return 130;
        }
        view.line(String.format("done: %d steps, val loss %.4f. Run directory %s (loss.png, metrics.jsonl, "
                + "checkpoints/)", outcome.steps(), outcome.valLoss(), directory.toAbsolutePath()));
        if (sample > 0 && outcome.lastCheckpoint() != null) {
            TrainedModel model = TrainedModel.load(outcome.lastCheckpoint(), view::line);
            if (model.generatesText()) {
                view.line("sample:\n" + model.generate("\n", sample, 0.8, 0, 1));
            }
        }
        return 0;
    }
}
