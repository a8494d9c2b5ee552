package io.ringformer.worker.exchange;

/**
 * The membership changed while this rank was in an all-reduce: a newer generation exists, so the ring it ran in
 * is over. Not a failure: the caller re-forms the exchange at the newest generation that names it and
 * resynchronises the replicas (see {@link io.ringformer.worker.ElasticExchange}).
 */
public final class GenerationChangedException extends RuntimeException {

    private final long generation;
    private final long newest;

    public GenerationChangedException(int rank, long step, long generation, long newest) {
        super("rank " + rank + ": generation " + newest + " replaced generation " + generation
                + " during the all-reduce of step " + step, null, false, false);
        this.generation = generation;
        this.newest = newest;
    }

    /** The generation of the abandoned ring. */
    public long generation() {
        return generation;
    }

    /** The newest generation known when the ring was abandoned. */
    public long newest() {
        return newest;
    }
}
