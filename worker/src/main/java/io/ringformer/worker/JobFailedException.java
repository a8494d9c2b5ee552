package io.ringformer.worker;

/** The job this worker belongs to failed (its status says so, with the cause another member reported). */
public final class JobFailedException extends RuntimeException {

    public JobFailedException(String message) {
        super(message, null, false, false);
    }
}
