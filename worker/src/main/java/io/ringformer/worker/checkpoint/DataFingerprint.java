package io.ringformer.worker.checkpoint;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a checkpoint remembers of the data file it was trained on: its size in bytes and its SHA-256. Resuming on
 * a file with another fingerprint would train on other batches than the run's first part did; {@code ResumeGuard}
 * refuses that. Stored in {@code state.json} as {@code "data": {"bytes": …, "sha256": "…"}}; checkpoints written
 * before it existed have none.
 */
public record DataFingerprint(long bytes, String sha256) {

    public static DataFingerprint of(Path file) throws IOException {
        return new DataFingerprint(java.nio.file.Files.size(file), CheckpointStore.sha256(file));
    }

    Map<String, Object> toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("bytes", bytes);
        json.put("sha256", sha256);
        return json;
    }

    /** The fingerprint in a {@code state.json} tree, or null when it has none (an older checkpoint). */
    static DataFingerprint fromJson(Object json) {
        if (json instanceof Map<?, ?> map && map.get("bytes") instanceof Number bytes
                && map.get("sha256") instanceof String sha256) {
            return new DataFingerprint(bytes.longValue(), sha256);
        }
        return null;
    }

    @Override
    public String toString() {
        return bytes + " bytes, SHA-256 " + sha256.substring(0, Math.min(12, sha256.length())) + "…";
    }
}
