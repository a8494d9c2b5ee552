package io.ringformer.worker;

import io.ringformer.worker.checkpoint.Checkpoint;
import io.ringformer.worker.checkpoint.CheckpointException;
import io.ringformer.worker.checkpoint.CheckpointStore;
import io.ringformer.worker.checkpoint.DataFingerprint;
import io.ringformer.worker.exchange.GenerationChangedException;
import io.ringformer.worker.exchange.GradientExchange;
import io.ringformer.zoo.data.TextDataset;
import io.ringformer.zoo.text.CharTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.MalformedInputException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A training run in a run directory: {@code config.yaml}, {@code tokenizer.txt}, {@code metrics.jsonl} and
 * {@code checkpoints/}. {@link #run} is the training loop; a {@link Listener} shows it to a person. In a job of
 * several ranks every rank runs the loop (the exchange keeps them in step) and rank 0 alone writes the run
 * directory and talks to the listener; the others only read it, to resume.
 */
public final class TrainingRun {

    /** What a person watching the run sees; every method may be left out. */
    public interface Listener {
        default void started(long firstStep, long lastStep, int parameters) {}

        default void stepped(Trainer.StepResult result, double tokensPerSecond) {}

        default void evaluated(long step, double trainLoss, double valLoss) {}

        default void checkpointed(Path checkpoint) {}
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

    /** Reads a UTF-8 text file, with errors that name it and the fix. */
    public static String readText(Path path) {
        try {
            String text = Files.readString(path);
            if (text.isEmpty()) {
                throw new ConfigException("data.path " + path + " is empty");
            }
            return text;
        } catch (NoSuchFileException e) {
            throw new ConfigException("data file not found: " + path
                    + " (run launch/fetch-data.sh for Moby Dick, or --set data.path=FILE)");
        } catch (MalformedInputException e) {
            throw new ConfigException("data.path " + path + " is not UTF-8 text");
        } catch (IOException e) {
            throw new ConfigException("cannot read data.path " + path + ": " + e.getMessage());
        }
    }

    /**
     * What can be checked of a config before anything is built or written, so that bad input costs one line and
     * leaves the run directory as it was: the data file (readable UTF-8, at least two distinct characters, each
     * split longer than one window) and the memory of {@code replicas} replicas on this machine
     * ({@link MemoryEstimate}). {@link #prepare} checks the same again for the replica it builds.
     *
     * @throws ConfigException naming the key or file and what to change
     */
    public static void checkInputs(TrainConfig config, int replicas) {
        String text = readText(Path.of(config.getString("data.path")));
        CharTokenizer tokenizer = CharTokenizer.fit(text);
        checkData(config, text, tokenizer);
        MemoryEstimate.of(config, tokenizer.vocabSize(), 1).check(Runtime.getRuntime().maxMemory(),
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

    /** A replica ready to train: its data, tokenizer, trainer, and the checkpoint it resumed from, if any. */
    public record Prepared(GradientExchange exchange, CheckpointStore store, CharTokenizer tokenizer, Trainer trainer,
                           Checkpoint checkpoint, boolean resume) {}

    /**
     * Everything that takes time before the first step: reads the text, loads the checkpoint when {@code resume}
     * and builds the model. A worker does this before it registers, so that the members never wait for a
     * newcomer to build its model. On an elastic exchange a missing checkpoint is not an error here: the state
     * may come from another member ({@link Trainer#synchronise}).
     */
    public Prepared prepare(boolean resume, boolean force, GradientExchange exchange) {
        Path dataFile = Path.of(config.getString("data.path"));
        String text = readText(dataFile);
        DataFingerprint dataFingerprint = fingerprint(dataFile);
        CheckpointStore store = new CheckpointStore(directory, config.getInt("checkpoint.keep"), dataFingerprint);
        Checkpoint checkpoint = null;
        CharTokenizer tokenizer;
        if (resume) {
            try {
                checkpoint = store.latestValid(log);
            } catch (CheckpointException e) {
                if (!exchange.elastic()) {
                    throw e;
                }
                log.accept("no checkpoint to resume here (" + e.getMessage() + "); the state must come from "
                        + "another member");
            }
        }
        if (checkpoint != null) {
            ResumeGuard.check(checkpoint, config, dataFingerprint, force, log);
            tokenizer = loadTokenizer(checkpoint.tokenizerFile());
        } else {
            tokenizer = CharTokenizer.fit(text);
        }
        TextDataset data = checkData(config, text, tokenizer);
        MemoryEstimate.of(config, tokenizer.vocabSize(), 1).checkHere();
        Trainer trainer = new Trainer(config, data, tokenizer.vocabSize(), exchange, log);
        log.accept("model backend: " + trainer.backend());
        if (checkpoint != null) {
            trainer.restore(checkpoint.state());
            log.accept("resumed from " + checkpoint.directory() + " at step " + checkpoint.step());
        }
        return new Prepared(exchange, store, tokenizer, trainer, checkpoint, resume);
    }

    /**
     * Trains a prepared replica to {@code train.max_iters}. A {@code founding} member started with the job and
     * holds its state (its seed's parameters, or its checkpoint); a worker admitted to a job under way holds state
     * only if it loaded a checkpoint, and otherwise takes the members' state over the exchange.
     */
    public Outcome train(Prepared prepared, boolean founding) {
        GradientExchange exchange = prepared.exchange();
        boolean writer = exchange.rank() == 0;
        if (writer && founding && !prepared.resume() && !prepared.store().checkpoints().isEmpty()) {
            throw new ConfigException("run directory " + directory + " already holds checkpoints; add --resume "
                    + "to continue it, or choose another --out");
        }
        Path tokenizerFile = directory.resolve("tokenizer.txt");
        Checkpoint checkpoint = prepared.checkpoint();
        if (writer) {
            writeRunFiles(prepared.tokenizer(), tokenizerFile);
            if (checkpoint != null) {
                int dropped = MetricsFile.keepUpTo(directory.resolve("metrics.jsonl"), checkpoint.step());
                if (dropped > 0) {
                    log.accept("metrics.jsonl: dropped " + dropped + " records after step " + checkpoint.step());
                }
            }
        }
        boolean holdsState = checkpoint != null || founding && !prepared.resume();
        return loop(prepared.trainer(), exchange, prepared.store(), prepared.tokenizer(), tokenizerFile, holdsState,
                checkpoint == null ? -1 : checkpoint.step());
    }

    private void writeRunFiles(CharTokenizer tokenizer, Path tokenizerFile) {
        try {
            Files.createDirectories(directory);
            Files.writeString(directory.resolve("config.yaml"), config.toYaml());
            tokenizer.save(tokenizerFile);
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
    private Outcome loop(Trainer trainer, GradientExchange exchange, CheckpointStore store, CharTokenizer tokenizer,
                         Path tokenizerFile, boolean holdsState, long resumedAt) {
        int maxSteps = config.getInt("train.max_iters");
        int logEvery = Math.max(1, config.getInt("log.interval"));
        int evalEvery = Math.max(1, config.getInt("eval.interval"));
        int saveEvery = Math.max(1, config.getInt("checkpoint.interval"));
        long tokensPerStep = (long) config.getInt("train.batch_size") * config.getInt("model.block_size");
        double lastLoss = Double.NaN;
        double valLoss = Double.NaN;
        Path lastCheckpoint = null;
        long savedAt = resumedAt;
        long boundaryDone = resumedAt;      // the boundary all ranks have passed together
        long recordedAt = resumedAt;        // the boundary this rank recorded (evaluation, checkpoint) as rank 0
        boolean synced = !exchange.elastic();
        boolean announced = false;
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
                            writeRunFiles(tokenizer, tokenizerFile);     // a new rank 0 may be on another disk
                            wroteRunFiles = true;
                        }
                        log.accept(String.format("rank %d of %d: in step with the others at step %d (state from "
                                + "rank %d, %d rank(s) received it) in %.0f ms", exchange.rank(),
                                exchange.worldSize(), agreed.step(), agreed.source(), agreed.receivers(),
                                agreed.millis()));
                    }
                    boolean leader = exchange.rank() == 0;
                    Listener listener = leader ? this.listener : SILENT;
                    if (exchange.paused()) {
                        long n = trainer.nextStep();
                        if (leader && n > 0 && savedAt != n) {
                            lastCheckpoint = save(store, trainer, tokenizerFile, lastLoss, valLoss, listener);
                            savedAt = n;
                        }
                        log.accept("rank " + exchange.rank() + ": paused at step " + n + " with " + exchange.worldSize()
                                + " worker(s), below the job's minimum; waiting for more");
                        exchange.awaitChange();
                    }
                    if (leader && !announced) {
                        listener.started(trainer.nextStep(), maxSteps, trainer.parameterCount());
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
                            lastCheckpoint = save(store, trainer, tokenizerFile, lastLoss, valLoss, listener);
                            savedAt = n;
                        }
                        boundaryDone = n;
                        recordedAt = leader ? n : -1;
                    }
                    if (n >= maxSteps || stopAgreed) {
                        if (stopAgreed && leader && savedAt != n && n > 0) {
                            lastCheckpoint = save(store, trainer, tokenizerFile, lastLoss, valLoss, listener);
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
                    double tokensPerSecond = tokensPerStep / (r.millis() / 1000.0);
                    if (done % logEvery == 0 || done == maxSteps) {
                        if (leader) {
                            metrics.record(Map.of("step", done, "lr", r.lr(), "loss", r.loss(), "grad_norm",
                                    r.gradNorm(), "tokens_per_s", Math.round(tokensPerSecond), "applied",
                                    r.applied()));
                        }
                        listener.stepped(r, tokensPerSecond);
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

    /** Train and val loss on the fixed evaluation batches, recorded and shown; returns the val loss. */
    private double evaluate(Trainer trainer, long step, MetricsFile.Appender metrics, Listener listener) {
        double train = trainer.evaluate(TextDataset.Split.TRAIN);
        double val = trainer.evaluate(TextDataset.Split.VAL);
        if (metrics != null) {
            metrics.record(Map.of("step", step, "val_loss", val, "train_loss", train));
        }
        listener.evaluated(step, train, val);
        return val;
    }

    private Path save(CheckpointStore store, Trainer trainer, Path tokenizerFile, double loss, double valLoss,
                      Listener listener) {
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("loss", loss);
        info.put("val_loss", valLoss);
        info.put("time", java.time.Instant.now().toString());
        Path written = store.write(trainer.state(), config.toYaml(), tokenizerFile, info);
        listener.checkpointed(written);
        return written;
    }

    /**
     * The dataset of {@code text}, refused with a {@link ConfigException} when a model cannot train on it: fewer
     * than two distinct characters (nothing to predict), or a split shorter than one window of
     * {@code model.block_size} + 1 tokens.
     */
    private static TextDataset checkData(TrainConfig config, String text, CharTokenizer tokenizer) {
        String path = config.getString("data.path");
        if (tokenizer.vocabSize() < 2) {
            throw new ConfigException("data.path " + path + " holds a single distinct character: a language model "
                    + "needs a text of at least two (and, to learn anything, a real text)");
        }
        TextDataset data;
        try {
            data = TextDataset.of(text, tokenizer, config.getDouble("data.train_fraction"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("data: " + e.getMessage());
        }
        int window = config.getInt("model.block_size") + 1;
        for (TextDataset.Split split : TextDataset.Split.values()) {
            if (data.tokens(split) < window) {
                throw new ConfigException("data.path " + path + " is too short: its " + split.name().toLowerCase(
                        java.util.Locale.ROOT) + " split has " + data.tokens(split) + " characters, and one window "
                        + "of model.block_size + 1 needs " + window + "; use a longer text, or lower "
                        + "model.block_size (or change data.train_fraction)");
            }
        }
        return data;
    }

    private static DataFingerprint fingerprint(Path file) {
        try {
            return DataFingerprint.of(file);
        } catch (IOException e) {
            throw new ConfigException("cannot read data.path " + file + ": " + e.getMessage());
        }
    }

    private static CharTokenizer loadTokenizer(Path file) {
        try {
            return CharTokenizer.load(file);
        } catch (IOException | IllegalArgumentException e) {
            throw new CheckpointException("cannot read the checkpoint's tokenizer: " + e.getMessage());
        }
    }
}
