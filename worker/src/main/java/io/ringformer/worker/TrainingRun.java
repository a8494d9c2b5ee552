package io.ringformer.worker;

import io.ringformer.worker.checkpoint.Checkpoint;
import io.ringformer.worker.checkpoint.CheckpointException;
import io.ringformer.worker.checkpoint.CheckpointStore;
import io.ringformer.worker.checkpoint.DataFingerprint;
import io.ringformer.worker.exchange.GenerationChangedException;
import io.ringformer.worker.exchange.GradientExchange;
import io.ringformer.zoo.family.Artifact;
import io.ringformer.zoo.family.DataSource;
import io.ringformer.zoo.family.ModelFamily;
import io.ringformer.zoo.family.Split;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A training run in a run directory: {@code config.yaml}, the family's artifact ({@code tokenizer.txt},
 * {@code tokenizer.json}, {@code image_stats.json}), {@code metrics.jsonl} and {@code checkpoints/}. {@link #run}
 * is the training loop; a {@link Listener} shows it to a person. In a job of
 * several ranks every rank runs the loop (the exchange keeps them in step) and rank 0 alone writes the run
 * directory and talks to the listener; the others only read it, to resume.
 */
public final class TrainingRun {

    /** What a person watching the run sees; every method may be left out. */
    public interface Listener {
        /** @param items what throughput counts, plural: tokens, images */
        default void started(long firstStep, long lastStep, int parameters, String items) {}

        default void stepped(Trainer.StepResult result, double tokensPerSecond) {}

        /** @param metrics the model's other metrics on the held-out split ({@code accuracy}, …) */
        default void evaluated(long step, double trainLoss, double valLoss, Map<String, Double> metrics) {}

        /** @param writeMs the time it took to write the checkpoint to disk */
        default void checkpointed(Path checkpoint, long writeMs) {}
    }

    /** How a run ended. */
    public record Outcome(long steps, double lastLoss, double valLoss, Path lastCheckpoint, boolean interrupted) {}

    private static final Listener SILENT = new Listener() { };
    private static final long FINISHED = Long.MIN_VALUE + 16;     // the tag of the final barrier's frames

    private final TrainConfig config;
    private final Path directory;
    private final Listener listener;
    private final Consumer<String> log;
    private volatile boolean stopRequested;
    private Listener everyRank = SILENT;

    public TrainingRun(TrainConfig config, Path directory, Listener listener, Consumer<String> log) {
        this.config = config;
        this.directory = directory;
        this.listener = listener;
        this.log = log;
    }

    /**
     * Asks the loop to stop after the current step; it writes a checkpoint first. In a job of several ranks the
     * request rides on the next step's all-reduce, so every rank stops after the same step and rank 0 writes one
     * final checkpoint.
     */
    public void requestStop() {
        stopRequested = true;
    }

    /**
     * A listener that hears every rank's own steps ({@code started}, {@code stepped}) and, on rank 0, its checkpoints —
     * where the main listener hears rank 0 alone. A worker's metrics use it.
     */
    public void alsoTell(Listener listener) {
        this.everyRank = listener;
    }

    /**
     * What can be checked of a config before anything is built or written, so that bad input costs one line and
     * leaves the run directory as it was: the family's data (it fits the artifact and opens the data, which checks
     * them) and the memory of {@code replicas} replicas on this machine ({@link MemoryEstimate}). {@link #prepare}
     * checks the same again for the replica it builds.
     *
     * @throws ConfigException naming the key or file and what to change
     */
    public static void checkInputs(TrainConfig config, int replicas) {
        Checkpoint start = initialParameters(config, message -> { });
        Artifact artifact = start != null ? loadArtifact(config.family(), start.artifactFile()) : fitArtifact(config);
        openData(config, artifact);
        MemoryEstimate.of(config, artifact, 1).check(Runtime.getRuntime().maxMemory(),
                MemoryEstimate.machineMemoryBytes().orElse(Long.MAX_VALUE), replicas);
    }

    /**
     * Trains from step 0, or from the newest valid checkpoint when {@code resume}, to {@code train.max_iters}.
     */
    public Outcome run(boolean resume, GradientExchange exchange) {
        return run(resume, false, exchange);
    }

    /**
     * As {@link #run(boolean, GradientExchange)}; on resume, {@link ResumeGuard} refuses a config that would change
     * what the run computes unless {@code force}, and {@code metrics.jsonl} is cut back to the checkpoint's step.
     */
    public Outcome run(boolean resume, boolean force, GradientExchange exchange) {
        return train(prepare(resume, force, exchange), true);
    }

    /** A replica ready to train: its data, artifact, trainer, and the checkpoint it resumed from, if any. */
    public record Prepared(GradientExchange exchange, CheckpointStore store, Artifact artifact, Trainer trainer,
                           Checkpoint checkpoint, boolean resume) {}

    /**
     * Everything that takes time before the first step: reads the text, loads the checkpoint when {@code resume}
     * and builds the model. A worker does this before it registers, so that the members never wait for a
     * newcomer to build its model. On an elastic exchange a missing checkpoint is not an error here: the state
     * may come from another member ({@link Trainer#synchronise}).
     */
    public Prepared prepare(boolean resume, boolean force, GradientExchange exchange) {
        ModelFamily family = config.family();
        Checkpoint checkpoint = null;
        if (resume) {
            try {
                checkpoint = new CheckpointStore(directory, config.getInt("checkpoint.keep")).latestValid(log);
            } catch (CheckpointException e) {
                if (!exchange.elastic()) {
                    throw e;
                }
                log.accept("no checkpoint to resume here (" + e.getMessage() + "); the state must come from "
                        + "another member");
            }
        }
        Checkpoint start = checkpoint == null ? initialParameters(config, log) : null;   // train.init_from
        Artifact artifact = checkpoint != null ? loadArtifact(family, checkpoint.artifactFile())
                : start != null ? loadArtifact(family, start.artifactFile()) : fitArtifact(config);
        DataSource data = openData(config, artifact);
        DataFingerprint dataFingerprint = fingerprint(data);
        if (checkpoint != null) {
            ResumeGuard.check(checkpoint, config, dataFingerprint, force, log);
        }
        CheckpointStore store = new CheckpointStore(directory, config.getInt("checkpoint.keep"), dataFingerprint);
        MemoryEstimate.of(config, artifact, 1).checkHere();
        if (!resume && !exchange.elastic()) {
            refuseToOverwrite(store);                 // before the seconds of building the model
        }
        Trainer trainer = new Trainer(config, artifact, data, exchange, log);
        log.accept("model backend: " + trainer.backend());
        if (checkpoint != null) {
            trainer.restore(checkpoint.state());
            log.accept("resumed from " + checkpoint.directory() + " at step " + checkpoint.step());
        } else if (start != null) {
            trainer.initialise(start.state().params());
            log.accept("parameters and " + artifact.fileName() + " from " + start.directory() + " (step "
                    + start.step() + "); the optimizer starts afresh");
        }
        return new Prepared(exchange, store, artifact, trainer, checkpoint, resume);
    }

    /** The checkpoint {@code train.init_from} names, of this run's family; null when it names none. */
    private static Checkpoint initialParameters(TrainConfig config, Consumer<String> log) {
        String from = config.getString("train.init_from");
        if (from.isEmpty()) {
            return null;
        }
        Checkpoint start = CheckpointStore.open(Path.of(from), log);
        String family = TrainConfig.parse(start.configYaml(), start.directory() + "/config.yaml").family().name();
        if (!family.equals(config.family().name())) {
            throw new ConfigException("train.init_from " + from + " holds a " + family + " model; this run trains a "
                    + config.family().name() + " model");
        }
        return start;
    }

    /**
     * Trains a prepared replica to {@code train.max_iters}. A {@code founding} member started with the job and
     * holds its state (its seed's parameters, or its checkpoint); a worker admitted to a job under way holds state
     * only if it loaded a checkpoint, and otherwise takes the members' state over the exchange.
     */
    public Outcome train(Prepared prepared, boolean founding) {
        GradientExchange exchange = prepared.exchange();
        boolean writer = exchange.rank() == 0;
        if (writer && founding && !prepared.resume()) {
            refuseToOverwrite(prepared.store());
        }
        Path artifactFile = directory.resolve(prepared.artifact().fileName());
        Checkpoint checkpoint = prepared.checkpoint();
        if (writer) {
            writeRunFiles(prepared.artifact(), artifactFile);
            if (checkpoint != null) {
                int dropped = MetricsFile.keepUpTo(directory.resolve("metrics.jsonl"), checkpoint.step());
                if (dropped > 0) {
                    log.accept("metrics.jsonl: dropped " + dropped + " records after step " + checkpoint.step());
                }
            }
        }
        boolean holdsState = checkpoint != null || founding && !prepared.resume();
        return loop(prepared.trainer(), exchange, prepared.store(), prepared.artifact(), artifactFile, holdsState,
                checkpoint == null ? -1 : checkpoint.step());
    }

    private void refuseToOverwrite(CheckpointStore store) {
        if (!store.checkpoints().isEmpty()) {
            throw new ConfigException("run directory " + directory + " already holds checkpoints; add --resume "
                    + "to continue it, or choose another --out");
        }
    }

    private void writeRunFiles(Artifact artifact, Path artifactFile) {
        try {
            Files.createDirectories(directory);
            Files.writeString(directory.resolve("config.yaml"), config.toYaml());
            artifact.save(artifactFile);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write to run directory " + directory, e);
        }
    }

    /**
     * The loop. Each pass handles the boundary before step n (evaluation, then rank 0's checkpoint, when due),
     * then trains step n. When the exchange's membership changes ({@link GenerationChangedException}), the pass
     * is abandoned, the exchange re-formed and the replicas resynchronised; the loop then goes on from the step
     * the members agreed on, redoing that step's boundary unless rank 0 had already recorded it.
     */
    private Outcome loop(Trainer trainer, GradientExchange exchange, CheckpointStore store, Artifact artifact,
                         Path artifactFile, boolean holdsState, long resumedAt) {
        int maxSteps = config.getInt("train.max_iters");
        int logEvery = Math.max(1, config.getInt("log.interval"));
        int evalEvery = Math.max(1, config.getInt("eval.interval"));
        int saveEvery = Math.max(1, config.getInt("checkpoint.interval"));
        long itemsPerStep = trainer.itemsPerStep();
        String throughputKey = trainer.itemName() + "_per_s";
        double lastLoss = Double.NaN;
        double valLoss = Double.NaN;
        Path lastCheckpoint = null;
        long savedAt = resumedAt;
        long boundaryDone = resumedAt;      // the boundary all ranks have passed together
        long recordedAt = resumedAt;        // the boundary this rank recorded (evaluation, checkpoint) as rank 0
        boolean synced = !exchange.elastic();
        boolean announced = false;
        boolean toldEveryRank = false;
        Listener leaderListener = both(this.listener, everyRank);   // rank 0 tells both
        long brokeAtNs = 0;                 // when the ring in use last broke, until the next step is done
        boolean stopAgreed = false;         // some rank was asked to stop: all stop after the same step
        boolean wroteRunFiles = exchange.rank() == 0;
        try (MetricsFile.Appender metrics = new MetricsFile.Appender(directory.resolve("metrics.jsonl"))) {
            while (true) {
                try {
                    if (!synced) {
                        long before = trainer.nextStep();
                        ReplicaSync.Outcome agreed = trainer.synchronise(holdsState, recordedAt == before);
                        synced = true;
                        holdsState = true;
                        boundaryDone = agreed.leaderBoundaryDone() ? agreed.step() : -1;
                        if (exchange.rank() == 0 && !wroteRunFiles) {
                            writeRunFiles(artifact, artifactFile);     // a new rank 0 may be on another disk
                            wroteRunFiles = true;
                        }
                        log.accept(String.format("rank %d of %d: in step with the others at step %d (state from "
                                + "rank %d, %d rank(s) received it) in %.0f ms", exchange.rank(),
                                exchange.worldSize(), agreed.step(), agreed.source(), agreed.receivers(),
                                agreed.millis()));
                    }
                    boolean leader = exchange.rank() == 0;
                    Listener listener = leader ? leaderListener : everyRank;
                    if (exchange.paused()) {
                        long n = trainer.nextStep();
                        if (leader && n > 0 && savedAt != n) {
                            lastCheckpoint = save(store, trainer, artifactFile, lastLoss, valLoss, listener);
                            savedAt = n;
                        }
                        log.accept("rank " + exchange.rank() + ": paused at step " + n + " with " + exchange.worldSize()
                                + " worker(s), below the job's minimum; waiting for more");
                        exchange.awaitChange();
                    }
                    if (!toldEveryRank) {
                        everyRank.started(trainer.nextStep(), maxSteps, trainer.parameterCount(), trainer.itemName());
                        toldEveryRank = true;
                    }
                    if (leader && !announced) {
                        this.listener.started(trainer.nextStep(), maxSteps, trainer.parameterCount(),
                                trainer.itemName());
                        announced = true;
                    }
                    long n = trainer.nextStep();
                    boolean evalDue = n == 0 || n % evalEvery == 0 || n == maxSteps;
                    boolean saveDue = n > 0 && (n % saveEvery == 0 || n == maxSteps);
                    if ((evalDue || saveDue) && boundaryDone != n) {
                        if (evalDue) {
                            valLoss = evaluate(trainer, n, leader ? metrics : null, listener);
                        }
                        if (leader && saveDue && savedAt != n) {
                            lastCheckpoint = save(store, trainer, artifactFile, lastLoss, valLoss, listener);
                            savedAt = n;
                        }
                        boundaryDone = n;
                        recordedAt = leader ? n : -1;
                    }
                    if (n >= maxSteps || stopAgreed) {
                        if (stopAgreed && leader && savedAt != n && n > 0) {
                            lastCheckpoint = save(store, trainer, artifactFile, lastLoss, valLoss, listener);
                            savedAt = n;
                        }
                        exchange.allReduceExact(new float[1], FINISHED);   // every rank has passed the end
                        break;
                    }
                    if (stopRequested) {
                        trainer.requestStop();
                    }
                    Trainer.StepResult r = trainer.trainStep();
                    stopAgreed |= r.stop();
                    long done = r.step() + 1;
                    if (brokeAtNs != 0 && leader) {
                        log.accept(String.format("recovered: step %d done at %d ms since the epoch, %.0f ms after "
                                + "the ring broke", done, System.currentTimeMillis(),
                                (System.nanoTime() - brokeAtNs) / 1e6));
                    }
                    brokeAtNs = 0;
                    lastLoss = r.loss();
                    double itemsPerSecond = itemsPerStep / (r.millis() / 1000.0);
                    if (done % logEvery == 0 || done == maxSteps) {
                        if (leader) {
                            metrics.record(Map.of("step", done, "lr", r.lr(), "loss", r.loss(), "grad_norm",
                                    r.gradNorm(), throughputKey, Math.round(itemsPerSecond), "applied",
                                    r.applied(), "step_ms", round3(r.millis()), "exchange_ms",
                                    round3(r.exchangeMillis())));
                        }
                        listener.stepped(r, itemsPerSecond);
                    }
                } catch (GenerationChangedException e) {
                    brokeAtNs = brokeAtNs != 0 ? brokeAtNs : System.nanoTime();
                    log.accept(e.getMessage() + "; re-forming the ring");
                    exchange.regroupAfter(e);
                    synced = false;
                }
            }
            long n = trainer.nextStep();
            if (exchange.elastic()) {
                log.accept(String.format("rank %d: state hash %016x at step %d", exchange.rank(), trainer.stateHash(),
                        n));
            }
        }
        return new Outcome(trainer.nextStep(), lastLoss, valLoss, lastCheckpoint, stopAgreed);
    }

    /**
     * The metrics of both splits on their evaluation batches, recorded ({@code train_loss}, {@code val_loss}, and
     * {@code val_<metric>} for the family's other metrics) and shown; returns the val loss.
     */
    private double evaluate(Trainer trainer, long step, MetricsFile.Appender metrics, Listener listener) {
        double train = trainer.evaluateLoss(Split.TRAIN);
        Map<String, Double> val = new LinkedHashMap<>(trainer.evaluate(Split.VAL));
        double valLoss = val.remove(val.keySet().iterator().next());
        if (metrics != null) {
            Map<String, Object> record = new LinkedHashMap<>();
            record.put("step", step);
            record.put("val_loss", valLoss);
            record.put("train_loss", train);
            val.forEach((name, value) -> record.put("val_" + name, value));
            metrics.record(record);
        }
        listener.evaluated(step, train, valLoss, val);
        return valLoss;
    }

    private Path save(CheckpointStore store, Trainer trainer, Path artifactFile, double loss, double valLoss,
                      Listener listener) {
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("loss", loss);
        info.put("val_loss", valLoss);
        info.put("time", java.time.Instant.now().toString());
        long startNs = System.nanoTime();
        Path written = store.write(trainer.state(), config.toYaml(), artifactFile, info);
        listener.checkpointed(written, (System.nanoTime() - startNs) / 1_000_000);
        return written;
    }

    /** The family's artifact fitted on the config's training data. */
    public static Artifact fitArtifact(TrainConfig config) {
        try {
            return config.family().fitArtifact(config);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
    }

    /** The family's data for {@code config}, refused with a {@link ConfigException} when a model cannot train on it. */
    public static DataSource openData(TrainConfig config, Artifact artifact) {
        try {
            return config.family().data(config, artifact);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
    }

    private static DataFingerprint fingerprint(DataSource data) {
        try {
            return DataFingerprint.of(data.files());
        } catch (IOException e) {
            throw new ConfigException("cannot read the data " + data.files() + ": " + e.getMessage());
        }
    }

    /** A checkpoint's artifact, read by its family. */
    public static Artifact loadArtifact(ModelFamily family, Path file) {
        try {
            return family.loadArtifact(file);
        } catch (IOException | IllegalArgumentException e) {
            throw new CheckpointException("cannot read the checkpoint's " + file.getFileName() + ": "
                    + e.getMessage());
        }
    }

    /** {@code a} then {@code b}, for every event. */
    private static Listener both(Listener a, Listener b) {
        return b == SILENT ? a : new Listener() {
            @Override
            public void started(long firstStep, long lastStep, int parameters, String items) {
                a.started(firstStep, lastStep, parameters, items);
                b.started(firstStep, lastStep, parameters, items);
            }

            @Override
            public void stepped(Trainer.StepResult result, double tokensPerSecond) {
                a.stepped(result, tokensPerSecond);
                b.stepped(result, tokensPerSecond);
            }

            @Override
            public void evaluated(long step, double trainLoss, double valLoss, Map<String, Double> metrics) {
                a.evaluated(step, trainLoss, valLoss, metrics);
                b.evaluated(step, trainLoss, valLoss, metrics);
            }

            @Override
            public void checkpointed(Path checkpoint, long writeMs) {
                a.checkpointed(checkpoint, writeMs);
                b.checkpointed(checkpoint, writeMs);
            }
        };
    }

    private static double round3(double millis) {
        return Math.round(millis * 1000) / 1000.0;
    }
}
