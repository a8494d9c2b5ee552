package io.ringformer.protocol;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A published checkpoint, in {@code checkpoints/latest} and its history entry {@code checkpoints/step-NNNNNNNN}.
 * The coordinator reads {@link #step} to start a generation whose members hold no parameters.
 *
 * <p>JSON: {@code {"step":250,"directory":"runs/gpt/checkpoints/step-00000250","world_size":4,
 * "config_sha256":"9f86…","files":{"params.bin":"e3b0…","optimizer.bin":"…"}}}
 *
 * @param step         the next step to train from this checkpoint (as {@code Trainer.State.step})
 * @param directory    where the checkpoint is, as the workers see it
 * @param worldSize    the world size that wrote it
 * @param configSha256 the hash of the job's config ({@link JobSpec#configSha256})
 * @param files        file name → lower-case hex SHA-256
 */
public record CheckpointManifest(long step, String directory, int worldSize, String configSha256,
                                 Map<String, String> files) {

    public CheckpointManifest {
        Objects.requireNonNull(directory, "directory");
        Objects.requireNonNull(configSha256, "config_sha256");
        files = Collections.unmodifiableMap(new TreeMap<>(Objects.requireNonNull(files, "files")));
        if (step < 0 || worldSize < 1) {
            throw new IllegalArgumentException("checkpoint manifest needs step ≥ 0 and world_size ≥ 1, got step "
                    + step + ", world_size " + worldSize);
        }
    }

    public byte[] encode() {
        return Json.encode(this);
    }

    public static CheckpointManifest decode(byte[] bytes) {
        return Json.decode(bytes, CheckpointManifest.class, "checkpoint manifest");
    }
}
