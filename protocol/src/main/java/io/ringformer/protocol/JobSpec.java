package io.ringformer.protocol;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;

/**
 * A submitted job, in {@code spec}: the training config as submitted (YAML, with its SHA-256), the job token, and
 * what the coordinator needs to form generations. The coordinator never parses the YAML (it has no DL4J and no
 * YAML on its classpath); whoever submits the job copies {@code train.batch_size} into {@code globalBatch}.
 *
 * <p>JSON: {@code {"job_token":"…","global_batch":12,"min_workers":2,"max_workers":4,"settle_ms":2000,
 * "config_yaml":"model:\n  n_layer: 4\n…","config_sha256":"9f86…"}}
 *
 * @param jobToken     a secret-ish string every worker and every generation carries; workers without it are
 *                     refused
 * @param globalBatch  sequences per optimizer step, whatever the world size
 * @param minWorkers   the fewest members a generation may have: the rendezvous waits for this many, and when
 *                     members die the job pauses (no new generation) until this many are registered again
 * @param maxWorkers   the most members a generation may have; more workers wait as spares
 * @param settleMs     once {@code minWorkers} are registered, how long to wait for more before writing the
 *                     generation (also how long joiners are batched before they are admitted)
 * @param configYaml   the training config as submitted
 * @param configSha256 lower-case hex SHA-256 of the UTF-8 bytes of {@code configYaml}
 */
public record JobSpec(String jobToken, int globalBatch, int minWorkers, int maxWorkers, long settleMs,
                      String configYaml, String configSha256) {

    public JobSpec {
        Objects.requireNonNull(jobToken, "job_token");
        Objects.requireNonNull(configYaml, "config_yaml");
        Objects.requireNonNull(configSha256, "config_sha256");
        if (jobToken.isBlank()) {
            throw new IllegalArgumentException("job_token must not be empty");
        }
        if (minWorkers < 1 || maxWorkers < minWorkers) {
            throw new IllegalArgumentException("need 1 ≤ min_workers ≤ max_workers, got min_workers " + minWorkers
                    + ", max_workers " + maxWorkers);
        }
        if (maxWorkers > globalBatch) {
            throw new IllegalArgumentException("max_workers " + maxWorkers + " exceeds the global batch "
                    + globalBatch + " (train.batch_size): every rank needs at least one row");
        }
        if (settleMs < 0) {
            throw new IllegalArgumentException("settle_ms must be ≥ 0, got " + settleMs);
        }
        if (!configSha256.equals(sha256(configYaml))) {
            throw new IllegalArgumentException("config_sha256 " + configSha256 + " is not the SHA-256 of "
                    + "config_yaml (" + sha256(configYaml) + ")");
        }
    }

    /** A spec whose hash is computed from {@code configYaml}. */
    public static JobSpec of(String jobToken, int globalBatch, int minWorkers, int maxWorkers, long settleMs,
                             String configYaml) {
        return new JobSpec(jobToken, globalBatch, minWorkers, maxWorkers, settleMs, configYaml, sha256(configYaml));
    }

    public static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    public byte[] encode() {
        return Json.encode(this);
    }

    public static JobSpec decode(byte[] bytes) {
        return Json.decode(bytes, JobSpec.class, "job spec");
    }

    /** Everything but the token, which is never logged. */
    @Override
    public String toString() {
        return "JobSpec[job_token=(hidden), global_batch=" + globalBatch + ", min_workers=" + minWorkers
                + ", max_workers=" + maxWorkers + ", settle_ms=" + settleMs + ", config_sha256=" + configSha256 + "]";
    }
}
