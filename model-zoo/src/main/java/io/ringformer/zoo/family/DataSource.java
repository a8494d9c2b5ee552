package io.ringformer.zoo.family;

import java.nio.file.Path;
import java.util.List;

/**
 * A family's data. Every batch is a pure function of what it is asked for — (seed, step) for training, the batch
 * index for evaluation — so a resumed run and a run split across any number of ranks see the same rows.
 */
public interface DataSource {

    /** The arrays of this family's batches. */
    List<Batch.Field> layout();

    /** An empty batch of {@code rows} rows. */
    default Batch newBatch(int rows) {
        return new Batch(layout(), rows);
    }

    /** Fills every row of {@code into} with the training batch of (seed, step), augmented if the family does. */
    void fill(long seed, long step, Batch into);

    /**
     * Evaluation batches of {@code split}: {@code count} batches of {@code rows} rows, fixed for the run (the same
     * at every evaluation). A family that measures on a whole test set returns as many as it takes to cover it.
     *
     * @param iterations {@code eval.iters}, for families that sample evaluation batches
     */
    int evaluationBatches(Split split, int rows, int iterations);

    /** Fills {@code into} with evaluation batch {@code index} of {@code split} and sets its filled rows. */
    void fillEvaluation(Split split, long seed, int index, Batch into);

    /** The files the data comes from: their fingerprint is recorded in each checkpoint. */
    List<Path> files();

    /** Items (tokens, images) in one row, for throughput: tokens/s or images/s. */
    int itemsPerRow();

    /** What {@link #itemsPerRow} counts, plural: {@code tokens}, {@code images}. */
    default String itemName() {
        return "tokens";
    }
}
