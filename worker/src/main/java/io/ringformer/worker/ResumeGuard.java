package io.ringformer.worker;

import io.ringformer.worker.checkpoint.Checkpoint;
import io.ringformer.worker.checkpoint.DataFingerprint;
import io.ringformer.zoo.family.ConfigKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Decides whether a run may resume from a checkpoint with the config it is given now.
 *
 * <p>A resumed run must continue the arithmetic of the run it resumes, or its losses, checkpoints and metrics
 * would describe two runs spliced together. So:
 * <ol>
 *   <li>every key that changes what is computed must equal the checkpoint's ({@code config.yaml} in the
 *       checkpoint): the seed, batch size, accumulation, precision, every {@code optim.*} key (schedule included),
 *       {@code data.train_fraction} and every {@code model.*} key but {@code model.backend} — and any key not
 *       named below, so a key added later is guarded until someone decides otherwise;</li>
 *   <li>the data file must have the checkpoint's fingerprint (size and SHA-256), whatever its path; a checkpoint
 *       written before fingerprints were recorded has none, which is reported and let through;</li>
 *   <li>keys that only change when things happen or how fast — evaluation, log and checkpoint intervals,
 *       {@code eval.iters}, {@code checkpoint.keep}, {@code train.max_iters}, {@code model.backend} (the backends
 *       agree to 1e-5), {@code exchange.*} — and {@code data.path} itself may change, each with one log line.</li>
 * </ol>
 * Refusals name every key with its old and new value. {@code force} (the CLI's {@code --resume --force}) lets
 * them through and says so in one line.
 */
public final class ResumeGuard {

    /** Keys that may change on resume: none changes what a step computes. */
    private static final Set<String> FREE = Set.of("eval.interval", "eval.iters", "log.interval",
            "checkpoint.interval", "checkpoint.keep", "train.max_iters", "model.backend", "data.path");
    private static final String FREE_PREFIX = "exchange.";

    private ResumeGuard() {}

    /**
     * Passes quietly, passes with a line per harmless change, or throws a {@link ConfigException} naming every
     * change that would alter the run (unless {@code force}, which only says so).
     */
    public static void check(Checkpoint checkpoint, TrainConfig config, DataFingerprint data, boolean force,
                             Consumer<String> log) {
        String name = checkpoint.directory().getFileName().toString();
        TrainConfig before;
        try {
            before = TrainConfig.override(TrainConfig.parse(checkpoint.configYaml(), name + "/config.yaml"),
                    List.of());
        } catch (ConfigException e) {
            throw new io.ringformer.worker.checkpoint.CheckpointException("cannot read the config of checkpoint "
                    + name + ": " + e.getMessage());
        }
        List<String> refused = new ArrayList<>();
        if (before.family() != config.family()) {
            throw new ConfigException("cannot resume from checkpoint " + name + ": it trained model.family "
                    + before.family().name() + ", and this config's model.family is " + config.family().name()
                    + "; resume with the checkpoint's config, or start a new run with another --out");
        }
        for (ConfigKey key : config.keys()) {
            Object old = before.get(key.name());
            Object now = config.get(key.name());
            if (Objects.equals(old, now)) {
                continue;
            }
            String change = key.name() + " " + old + " → " + now;
            if (FREE.contains(key.name()) || key.name().startsWith(FREE_PREFIX)) {
                log.accept("resume: " + change + " (does not change what a step computes)");
            } else {
                refused.add(change);
            }
        }
        if (checkpoint.data() == null) {
            log.accept("resume: checkpoint " + name + " records no data fingerprint (written by an older "
                    + "ringformer); cannot check that data.path holds the same text");
        } else if (!checkpoint.data().equals(data)) {
            refused.add("data.path content " + checkpoint.data() + " → " + data + " (" + config.getString("data.path")
                    + ")");
        }
        if (refused.isEmpty()) {
            return;
        }
        if (force) {
            log.accept("resume --force: continuing despite changes that alter the run: " + String.join(", ", refused));
            return;
        }
        throw new ConfigException("cannot resume from checkpoint " + name + ": the config changes what the run "
                + "computes (checkpoint → now): " + String.join(", ", refused) + "; restore those values, start a "
                + "new run with another --out, or add --force to resume anyway");
    }
}
