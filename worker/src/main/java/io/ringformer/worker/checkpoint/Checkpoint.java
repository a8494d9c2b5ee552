package io.ringformer.worker.checkpoint;

import io.ringformer.worker.Trainer;
import java.nio.file.Path;
import java.util.Map;

/**
 * A loaded checkpoint: the trainer's state, the effective config (YAML), the family's artifact (tokenizer, image
 * statistics) and data file (its
 * fingerprint; null in checkpoints written before it was recorded) it was trained with, and the figures recorded
 * beside it ({@code loss}, {@code val_loss}, …).
 */
public record Checkpoint(Path directory, Trainer.State state, String configYaml, Path artifactFile,
                         DataFingerprint data, Map<String, Object> info) {

    public long step() {
        return state.step();
    }
}
