package io.ringformer.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.ringformer.worker.checkpoint.Checkpoint;
import io.ringformer.worker.checkpoint.CheckpointException;
import io.ringformer.worker.checkpoint.CheckpointStore;
import io.ringformer.worker.checkpoint.DataFingerprint;
import io.ringformer.worker.exchange.GradientExchange;
import io.ringformer.zoo.data.TextDataset;
import io.ringformer.zoo.text.CharTokenizer;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.MalformedInputException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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

    private static final ObjectMapper JSON = new ObjectMapper();

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

    /** Asks the loop to stop after the current step; it writes a checkpoint first. */
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
        Path dataFile = Path.of(config.getString("data.path"));
        String text = readText(dataFile);
        DataFingerprint dataFingerprint = fingerprint(dataFile);
        CheckpointStore store = new CheckpointStore(directory, config.getInt("checkpoint.keep"), dataFingerprint);
        Checkpoint checkpoint = null;
        CharTokenizer tokenizer;
        if (resume) {
            checkpoint = store.latestValid(log);
            ResumeGuard.check(checkpoint, config, dataFingerprint, force, log);
            if (exchange.rank() == 0) {
                int dropped = MetricsFile.keepUpTo(directory.resolve("metrics.jsonl"), checkpoint.step());
                if (dropped > 0) {
                    log.accept("metrics.jsonl: dropped " + dropped + " records after step " + checkpoint.step());
                }
            }
            tokenizer = loadTokenizer(checkpoint.tokenizerFile());
        } else {
            if (!store.checkpoints().isEmpty()) {
                throw new ConfigException("run directory " + directory + " already holds checkpoints; add --resume "
                        + "to continue it, or choose another --out");
            }
            tokenizer = CharTokenizer.fit(text);
        }
        TextDataset data = textDataset(text, tokenizer);
        Trainer trainer = new Trainer(config, data, tokenizer.vocabSize(), exchange, log);
        log.accept("model backend: " + trainer.backend());
        if (checkpoint != null) {
            trainer.restore(checkpoint.state());
            log.accept("resumed from " + checkpoint.directory() + " at step " + checkpoint.step());
        }
        Path tokenizerFile = directory.resolve("tokenizer.txt");
        if (exchange.rank() == 0) {
            try {
                Files.createDirectories(directory);
                Files.writeString(directory.resolve("config.yaml"), config.toYaml());
                tokenizer.save(tokenizerFile);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write to run directory " + directory, e);
            }
        }
        return loop(trainer, store, tokenizerFile);
    }

    /** The loop: step, log, evaluate, checkpoint; on a stop request, checkpoint and leave. */
    private Outcome loop(Trainer trainer, CheckpointStore store, Path tokenizerFile) {
        int maxSteps = config.getInt("train.max_iters");
        int logEvery = Math.max(1, config.getInt("log.interval"));
        int evalEvery = Math.max(1, config.getInt("eval.interval"));
        int saveEvery = Math.max(1, config.getInt("checkpoint.interval"));
        long tokensPerStep = (long) config.getInt("train.batch_size") * config.getInt("model.block_size");
        boolean leader = trainer.rank() == 0;
        Listener listener = leader ? this.listener : new Listener() { };
        listener.started(trainer.nextStep(), maxSteps, trainer.parameterCount());
        double lastLoss = Double.NaN;
        double valLoss = Double.NaN;
        Path lastCheckpoint = null;
        long savedAt = -1;
        try (BufferedWriter metrics = leader ? Files.newBufferedWriter(directory.resolve("metrics.jsonl"),
                StandardOpenOption.CREATE, StandardOpenOption.APPEND) : new BufferedWriter(Writer.nullWriter())) {
            if (trainer.nextStep() == 0) {
                valLoss = evaluate(trainer, 0, metrics, listener);
            }
            while (trainer.nextStep() < maxSteps && !stopRequested) {
                Trainer.StepResult r = trainer.trainStep();
                long done = r.step() + 1;
                lastLoss = r.loss();
                double tokensPerSecond = tokensPerStep / (r.millis() / 1000.0);
                if (done % logEvery == 0 || done == maxSteps) {
                    record(metrics, Map.of("step", done, "lr", r.lr(), "loss", r.loss(), "grad_norm", r.gradNorm(),
                            "tokens_per_s", Math.round(tokensPerSecond), "applied", r.applied()));
                    listener.stepped(r, tokensPerSecond);
                }
                if (done % evalEvery == 0 || done == maxSteps) {
                    valLoss = evaluate(trainer, done, metrics, listener);
                }
                if (leader && (done % saveEvery == 0 || done == maxSteps)) {
                    lastCheckpoint = save(store, trainer, tokenizerFile, lastLoss, valLoss, listener);
                    savedAt = done;
                }
            }
            if (stopRequested && leader && savedAt != trainer.nextStep() && trainer.nextStep() > 0) {
                lastCheckpoint = save(store, trainer, tokenizerFile, lastLoss, valLoss, listener);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write metrics in " + directory, e);
        }
        return new Outcome(trainer.nextStep(), lastLoss, valLoss, lastCheckpoint, stopRequested);
    }

    /** Train and val loss on the fixed evaluation batches, recorded and shown; returns the val loss. */
    private double evaluate(Trainer trainer, long step, BufferedWriter metrics, Listener listener)
            throws IOException {
        double train = trainer.evaluate(TextDataset.Split.TRAIN);
        double val = trainer.evaluate(TextDataset.Split.VAL);
        record(metrics, Map.of("step", step, "val_loss", val, "train_loss", train));
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

    private static void record(BufferedWriter metrics, Map<String, Object> values) throws IOException {
        Map<String, Object> ordered = new LinkedHashMap<>();
        ordered.put("step", values.get("step"));
        values.forEach(ordered::putIfAbsent);
        metrics.write(JSON.writeValueAsString(ordered));
        metrics.newLine();
        metrics.flush();
    }

    private TextDataset textDataset(String text, CharTokenizer tokenizer) {
        try {
            return TextDataset.of(text, tokenizer, config.getDouble("data.train_fraction"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("data: " + e.getMessage());
        }
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
