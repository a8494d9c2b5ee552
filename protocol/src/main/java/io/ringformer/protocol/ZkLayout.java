package io.ringformer.protocol;

import java.util.regex.Pattern;

/**
 * Every ZooKeeper path of one job; no other class spells a path. DESIGN.md §4:
 *
 * <pre>
 * /ringformer/jobs/&lt;job&gt;/spec                  {@link JobSpec}: the config as submitted, its hash, the job token
 * /ringformer/jobs/&lt;job&gt;/coordinator           Curator LeaderLatch of the coordinators (active + standbys)
 * /ringformer/jobs/&lt;job&gt;/workers/&lt;id&gt;          ephemeral {@link WorkerInfo}, one per live worker
 * /ringformer/jobs/&lt;job&gt;/generation            the current {@link Generation}; only the leader writes it, by CAS
 * /ringformer/jobs/&lt;job&gt;/checkpoints/latest    the newest {@link CheckpointManifest}, by CAS
 * /ringformer/jobs/&lt;job&gt;/checkpoints/step-NNNNNNNN   history: one manifest per published checkpoint
 * /ringformer/jobs/&lt;job&gt;/status                {@link JobStatus}
 * </pre>
 *
 * Job names and worker ids are 1–128 characters of {@code [A-Za-z0-9._-]} (not "." or ".."), so they are valid
 * ZooKeeper node names and safe in file names.
 */
public final class ZkLayout {

    /** The parent of every job. */
    public static final String JOBS = "/ringformer/jobs";

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,128}");

    private final String job;
    private final String root;

    public ZkLayout(String job) {
        this.job = requireName(job, "job name");
        this.root = JOBS + "/" + job;
    }

    /** Checks that {@code name} can be a job name or worker id, and returns it. */
    public static String requireName(String name, String what) {
        if (name == null || !NAME.matcher(name).matches() || name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException(what + " must be 1-128 characters of [A-Za-z0-9._-] (not '.' or "
                    + "'..'), got " + (name == null ? "null" : "'" + name + "'"));
        }
        return name;
    }

    public String job() {
        return job;
    }

    /** {@code /ringformer/jobs/<job>} */
    public String root() {
        return root;
    }

    /** {@code /ringformer/jobs/<job>/spec} */
    public String spec() {
        return root + "/spec";
    }

    /** {@code /ringformer/jobs/<job>/coordinator}: the leader latch's parent. */
    public String coordinator() {
        return root + "/coordinator";
    }

    /** {@code /ringformer/jobs/<job>/workers} */
    public String workers() {
        return root + "/workers";
    }

    /** {@code /ringformer/jobs/<job>/workers/<id>} */
    public String worker(String id) {
        return workers() + "/" + requireName(id, "worker id");
    }

    /** {@code /ringformer/jobs/<job>/generation} */
    public String generation() {
        return root + "/generation";
    }

    /** {@code /ringformer/jobs/<job>/checkpoints}: {@code latest} and the history. */
    public String checkpoints() {
        return root + "/checkpoints";
    }

    /** {@code /ringformer/jobs/<job>/checkpoints/latest} */
    public String latestCheckpoint() {
        return checkpoints() + "/latest";
    }

    /** {@code /ringformer/jobs/<job>/checkpoints/step-NNNNNNNN}: the history entry of one checkpoint. */
    public String checkpoint(long step) {
        if (step < 0) {
            throw new IllegalArgumentException("checkpoint step must be ≥ 0, got " + step);
        }
        return checkpoints() + String.format("/step-%08d", step);
    }

    /** {@code /ringformer/jobs/<job>/status} */
    public String status() {
        return root + "/status";
    }

    @Override
    public String toString() {
        return root;
    }
}
