package io.ringformer.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Objects;

/**
 * How the job is doing, in {@code status}. The coordinator creates it (running) with generation 1; rank 0 reports
 * progress into it; whoever ends the job sets finished or failed. Written by read-modify-CAS ({@link
 * JobStatusNode}).
 *
 * <p>JSON: {@code {"state":"running","last_step":41,"last_loss":2.31,"items_per_second":31200.0,
 * "last_checkpoint":"runs/gpt/checkpoints/step-00000040","detail":"",
 * "last_event":"2026-12-03T12:41:03Z generation 2: 2 workers"}}
 *
 * @param state          running, finished, failed, or stopped (by a signal, to be resumed)
 * @param lastStep       the last step completed (as {@code Trainer.StepResult.step}); -1 before the first
 * @param lastLoss       that step's global mean loss (NaN before the first step, or when it diverged)
 * @param itemsPerSecond the job's throughput at that step, tokens or images a second (NaN before the first)
 * @param lastCheckpoint the directory of the newest checkpoint, "" if none
 * @param detail         why the job failed, or any note; "" if none
 * @param lastEvent      the newest thing that happened to the job (a generation, a checkpoint, its end), behind
 *                       the UTC time it happened; "" if none
 */
public record JobStatus(State state, long lastStep, double lastLoss, double itemsPerSecond, String lastCheckpoint,
                        String detail, String lastEvent) {

    public enum State {
        RUNNING, FINISHED, FAILED, STOPPED;

        @JsonValue
        public String json() {
            return Json.name(this);
        }

        @JsonCreator
        public static State of(String text) {
            return Json.constant(State.class, text, "job state");
        }
    }

    public JobStatus {
        Objects.requireNonNull(state, "state");
        lastCheckpoint = lastCheckpoint == null ? "" : lastCheckpoint;
        detail = detail == null ? "" : detail;
        lastEvent = lastEvent == null ? "" : lastEvent;
        if (lastStep < -1) {
            throw new IllegalArgumentException("last_step must be ≥ -1, got " + lastStep);
        }
    }

    /** A running job that has not reported a step yet. */
    public static JobStatus started() {
        return new JobStatus(State.RUNNING, -1, Double.NaN, Double.NaN, "", "", "");
    }

    public boolean ended() {
        return state != State.RUNNING;
    }

    /** This status moved to {@code next}; finished and failed are terminal, so an ended status stays as it is. */
    public JobStatus withState(State next, String why) {
        if (ended()) {
            return this;
        }
        return new JobStatus(next, lastStep, lastLoss, itemsPerSecond, lastCheckpoint, why, lastEvent)
                .withEvent(next.json() + (why.isBlank() ? "" : ": " + why));
    }

    public JobStatus withStep(long step, double loss, double itemsPerSecond) {
        return new JobStatus(state, step, loss, itemsPerSecond, lastCheckpoint, detail, lastEvent);
    }

    public JobStatus withCheckpoint(String directory) {
        return new JobStatus(state, lastStep, lastLoss, itemsPerSecond, directory, detail, lastEvent)
                .withEvent("checkpoint " + directory);
    }

    /** {@code what} as the last event, stamped with the time now (UTC, to the second). */
    public JobStatus withEvent(String what) {
        return new JobStatus(state, lastStep, lastLoss, itemsPerSecond, lastCheckpoint, detail,
                Instant.now().truncatedTo(ChronoUnit.SECONDS) + " " + what);
    }

    public byte[] encode() {
        return Json.encode(this);
    }

    public static JobStatus decode(byte[] bytes) {
        return Json.decode(bytes, JobStatus.class, "job status");
    }
}
