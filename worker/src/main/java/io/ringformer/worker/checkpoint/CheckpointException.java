package io.ringformer.worker.checkpoint;

import io.ringformer.protocol.InputException;

/**
 * A checkpoint that cannot be used: missing, corrupt, or for another model. The message says which and why; the
 * CLI exits with 2.
 */
public final class CheckpointException extends InputException {
    public CheckpointException(String message) {
        super(message);
    }
}
