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

    @Override
    default void close() {}
}
