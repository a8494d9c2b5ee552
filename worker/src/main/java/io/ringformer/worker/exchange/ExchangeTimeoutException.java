package io.ringformer.worker.exchange;

/**
 * An all-reduce step did not complete within its time limit: a peer died, stalled or is in another generation.
 * The exchange that threw is finished; the survivors re-form the ring at a new generation (DESIGN.md §5).
 */
public final class ExchangeTimeoutException extends RuntimeException {

    private final int rank;
    private final long step;
    private final String phase;
    private final String waitingFor;

    public ExchangeTimeoutException(int rank, long step, String phase, String waitingFor, long timeoutMs) {
        super("rank " + rank + ": all-reduce of step " + step + " did not complete within " + timeoutMs
                + " ms; stuck in " + phase + ", waiting for " + waitingFor);
        this.rank = rank;
        this.step = step;
        this.phase = phase;
        this.waitingFor = waitingFor;
    }

    public int rank() {
        return rank;
    }

    public long step() {
        return step;
    }

    /** Where the ring stood, e.g. {@code "reduce-scatter 1 of 3"}. */
    public String phase() {
        return phase;
    }

    /** What the rank was waiting for: a frame from its left neighbour, or room to send to its right one. */
    public String waitingFor() {
        return waitingFor;
    }
}
