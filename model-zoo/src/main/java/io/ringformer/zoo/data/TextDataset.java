package io.ringformer.zoo.data;

import io.ringformer.zoo.text.CharTokenizer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The token ids of a text, split into train and val, served as batches of random windows as nanoGPT's
 * {@code get_batch} — except that the batch of a step is a pure function of (seed, step, split).
 *
 * <p>Why: in data-parallel training every rank must agree on the global batch without talking, and a run resumed
 * from a checkpoint at step s must see the batches it would have seen. So the window starts of a batch come from a
 * generator seeded by mixing (seed, step, split), never from random state carried between calls: any process, at
 * any world size, computes the same global batch and keeps its own rows ({@link Rows#of}). Windows are drawn with
 * replacement, so there are no epochs; the step number alone names a batch.
 *
 * <p>Layout: ids [0, n_train) are the train split and [n_train, n) the val split, n_train = ⌊n · trainFraction⌋
 * (nanoGPT: the first 90%). A window never crosses from one split into the other. A row with start s holds tokens
 * ids[s, s+T) and targets ids[s+1, s+T+1), s drawn uniformly from the split's n_split − T possible starts.
 */
public final class TextDataset {

    /** Which part of the text. The ordinal enters the batch seed: do not reorder. */
    public enum Split { TRAIN, VAL }

    /** Inputs and next-token targets, both INT32 [B, T], the placeholders of {@code Gpt}. */
    public record Batch(INDArray tokens, INDArray targets) {
    }

    /**
     * The contiguous rows [first, first + count) of a global batch that one rank trains on. When the global batch
     * does not divide by the world size, the first (globalBatch mod worldSize) ranks get one extra row; a rank that
     * averages its loss over its own rows must then weight it by count / globalBatch to reproduce the global mean.
     */
    public record Rows(int first, int count) {

        public static Rows of(int globalBatch, int rank, int worldSize) {
            if (worldSize < 1 || rank < 0 || rank >= worldSize) {
                throw new IllegalArgumentException("rank must be in [0, worldSize) with worldSize ≥ 1, got rank "
                        + rank + " of world size " + worldSize);
            }
            if (globalBatch < worldSize) {
                throw new IllegalArgumentException("global batch " + globalBatch + " is smaller than world size "
                        + worldSize + ": every rank needs at least one row");
            }
            int base = globalBatch / worldSize;
            int extra = globalBatch % worldSize;
            return new Rows(rank * base + Math.min(rank, extra), base + (rank < extra ? 1 : 0));
        }
    }

    private final int[] ids;
    private final int trainTokens;

    /**
     * @param ids           token ids of the whole text, each ≥ 0 (copied)
     * @param trainFraction share of the ids, from the start, that forms the train split; strictly between 0 and 1
     */
    public TextDataset(int[] ids, double trainFraction) {
        if (!(trainFraction > 0 && trainFraction < 1)) {
            throw new IllegalArgumentException("trainFraction must be strictly between 0 and 1, got " + trainFraction);
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0) {
                throw new IllegalArgumentException("token id " + ids[i] + " at index " + i + " is negative");
            }
        }
        this.ids = ids.clone();
        this.trainTokens = (int) (ids.length * trainFraction);
    }

    /** The dataset of {@code text} encoded by {@code tokenizer}. */
    public static TextDataset of(String text, CharTokenizer tokenizer, double trainFraction) {
        return new TextDataset(tokenizer.encode(text), trainFraction);
    }

    /** Number of tokens in {@code split}. */
    public int tokens(Split split) {
        return split == Split.TRAIN ? trainTokens : ids.length - trainTokens;
    }

    /** Index in the whole text of {@code split}'s first token. */
    public int firstToken(Split split) {
        return split == Split.TRAIN ? 0 : trainTokens;
    }

    /** The global batch of {@code step}: {@code batchSize} rows of {@code blockSize} tokens. */
    public Batch batch(Split split, long seed, long step, int batchSize, int blockSize) {
        int[] tokens = new int[batchSize * blockSize];
        int[] targets = new int[batchSize * blockSize];
        fill(split, seed, step, batchSize, blockSize, tokens, targets);
        return new Batch(Nd4j.createFromArray(tokens).reshape(batchSize, blockSize),
                Nd4j.createFromArray(targets).reshape(batchSize, blockSize));              // [B, T] int32 each
    }

    /**
     * The rows of the global batch of {@code step} that {@code rank} trains on, as {@link Rows#of}. Every rank draws
     * the same global window starts and keeps its own, so the slices of all ranks, in rank order, are the global batch.
     */
    public Batch slice(Split split, long seed, long step, int globalBatch, int blockSize, int rank, int worldSize) {
        Rows rows = Rows.of(globalBatch, rank, worldSize);
        Batch global = batch(split, seed, step, globalBatch, blockSize);
        INDArrayIndex mine = NDArrayIndex.interval(rows.first(), rows.first() + rows.count());
        return new Batch(global.tokens().get(mine, NDArrayIndex.all()).dup(),
                global.targets().get(mine, NDArrayIndex.all()).dup());
    }

    /**
     * Writes the global batch of {@code step} into flat [batchSize, blockSize] arrays, row-major, as a trainer
     * that reuses its arrays wants it. A rank trains on its rows of it ({@link Rows#of}).
     */
    public void fill(Split split, long seed, long step, int batchSize, int blockSize, int[] tokens, int[] targets) {
        if (tokens.length < batchSize * blockSize || targets.length < batchSize * blockSize) {
            throw new IllegalArgumentException("tokens and targets need room for " + batchSize + " × " + blockSize);
        }
        int[] starts = windowStarts(split, seed, step, batchSize, blockSize);
        for (int row = 0; row < batchSize; row++) {
            System.arraycopy(ids, starts[row], tokens, row * blockSize, blockSize);           // x = data[i : i+T]
            System.arraycopy(ids, starts[row] + 1, targets, row * blockSize, blockSize);      // y = data[i+1 : i+1+T]
        }
    }

    /** Where each row of the global batch of {@code step} starts, as an index into the whole text. */
    public int[] windowStarts(Split split, long seed, long step, int batchSize, int blockSize) {
        if (batchSize < 1 || blockSize < 1 || step < 0) {
            throw new IllegalArgumentException("batchSize ≥ 1, blockSize ≥ 1 and step ≥ 0 are required, got"
                    + " batchSize " + batchSize + ", blockSize " + blockSize + ", step " + step);
        }
        int length = tokens(split);
        if (length < blockSize + 1) {
            throw new IllegalArgumentException("the " + split + " split has " + length + " tokens, fewer than blockSize"
                    + " + 1 = " + (blockSize + 1) + " (a window is blockSize tokens plus one more target)");
        }
        SplitMix64 random = new SplitMix64(batchSeed(seed, step, split));
        int[] starts = new int[batchSize];
        for (int row = 0; row < batchSize; row++) {
            starts[row] = firstToken(split) + random.nextInt(length - blockSize); // torch.randint(len(data) - T)
        }
        return starts;
    }

    /** One seed per (seed, step, split): each input in turn goes through the SplitMix64 finaliser. */
    static long batchSeed(long seed, long step, Split split) {
        return SplitMix64.mix64(SplitMix64.mix64(SplitMix64.mix64(seed) + step) + split.ordinal());
    }
}
