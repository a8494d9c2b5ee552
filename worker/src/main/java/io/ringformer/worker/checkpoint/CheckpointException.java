package io.ringformer.worker.checkpoint;

/** A checkpoint that cannot be used: missing, corrupt, or for another model. The message says which and why. */
public final class CheckpointException extends RuntimeException {
    public CheckpointException(String message) {
        super(message);
    }
}
