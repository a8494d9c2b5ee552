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

    /**
     * The fingerprint of several files: their total size, and the SHA-256 of their SHA-256s in order (of one file,
     * that file's own).
     */
    public static DataFingerprint of(java.util.List<Path> files) throws IOException {
        if (files.size() == 1) {
            return of(files.get(0));
        }
        long bytes = 0;
        StringBuilder hashes = new StringBuilder();
        for (Path file : files) {
            bytes += java.nio.file.Files.size(file);
            hashes.append(CheckpointStore.sha256(file));
        }
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(
                    hashes.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            return new DataFingerprint(bytes, java.util.HexFormat.of().formatHex(digest));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
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
