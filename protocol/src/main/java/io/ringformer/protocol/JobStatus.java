package io.ringformer.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Objects;

/**
 * How the job is doing, in {@code status}. The coordinator creates it (running) with generation 1; rank 0 reports
 * progress into it; whoever ends the job sets finished or failed. Written by read-modify-CAS ({@link
 * JobStatusNode}).
 *
 * <p>JSON: {@code {"state":"running","last_step":41,"last_loss":2.31,
 * "last_checkpoint":"runs/gpt/checkpoints/step-00000040","detail":""}}
 *
 * @param state          running, finished, failed, or stopped (by a signal, to be resumed)
 * @param lastStep       the last step completed (as {@code Trainer.StepResult.step}); -1 before the first
 * @param lastLoss       that step's global mean loss (NaN before the first step, or when it diverged)
 * @param lastCheckpoint the directory of the newest checkpoint, "" if none
 * @param detail         why the job failed, or any note; "" if none
 */
public record JobStatus(State state, long lastStep, double lastLoss, String lastCheckpoint, String detail) {

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
        if (lastStep < -1) {
            throw new IllegalArgumentException("last_step must be ≥ -1, got " + lastStep);
        }
    }

    /** A running job that has not reported a step yet. */
    public static JobStatus started() {
        return new JobStatus(State.RUNNING, -1, Double.NaN, "", "");
    }

    public boolean ended() {
        return state != State.RUNNING;
    }

    /** This status moved to {@code next}; finished and failed are terminal, so an ended status stays as it is. */
    public JobStatus withState(State next, String why) {
        if (ended()) {
            return this;
        }
        return new JobStatus(next, lastStep, lastLoss, lastCheckpoint, why);
    }

    public JobStatus withStep(long step, double loss) {
        return new JobStatus(state, step, loss, lastCheckpoint, detail);
    }

    public JobStatus withCheckpoint(String directory) {
        return new JobStatus(state, lastStep, lastLoss, directory, detail);
    }

    public byte[] encode() {
        return Json.encode(this);
    }

    public static JobStatus decode(byte[] bytes) {
        return Json.decode(bytes, JobStatus.class, "job status");
    }
}
