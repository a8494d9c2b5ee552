package io.ringformer.worker.exchange;

/**
 * The seam between one replica and the others: after each backward pass the {@link io.ringformer.worker.Trainer}
 * hands its flat gradient here and gets back the sum over all ranks. A world of one needs nothing
 * ({@link LocalExchange}); a cluster runs a ring all-reduce.
 */
public interface GradientExchange extends AutoCloseable {

    int rank();

    int worldSize();

    /**
     * Replaces {@code buffer} with its element-wise sum over all ranks, the same on every rank.
     *
     * @param step the optimizer step this buffer belongs to (frames of other steps are not summed)
     */
    void allReduce(float[] buffer, long step);

    /**
     * As {@link #allReduce}, with every value sent in fp32 whatever the exchange's wire format, so that a buffer
     * that only one rank fills (the others hold −0.0, the identity of IEEE addition) reaches every rank
     * bit-identical: the replicas' state travels this way.
     */
    default void allReduceExact(float[] buffer, long step) {
        allReduce(buffer, step);
    }

    /**
     * Whether the membership can change under this exchange; then a trainer synchronises the replicas when it is
     * formed and after every change ({@link io.ringformer.worker.Trainer#synchronise}).
     */
    default boolean elastic() {
        return false;
    }

    /**
     * After {@code change}: re-forms this exchange at the newest generation that names this rank (its rank and
     * world size may differ afterwards). An exchange whose membership never changes rethrows.
     */
    default void regroupAfter(GenerationChangedException change) {
        throw change;
    }

    /** Whether the membership is below the job's minimum: the replicas are in step but do not train. */
    default boolean paused() {
        return false;
    }

    /**
     * While {@link #paused()}: blocks until the membership changes, then throws the {@link
     * GenerationChangedException} that makes the caller regroup.
     */
    default void awaitChange() {
        throw new IllegalStateException("this exchange never pauses");
    }

    /** Frames received and dropped rather than summed, by reason ({@code bad_mac}, {@code other}); none by default. */
    default java.util.Map<String, Long> droppedFramesByReason() {
        return java.util.Map.of();
    }

    @Override
    default void close() {}
}
