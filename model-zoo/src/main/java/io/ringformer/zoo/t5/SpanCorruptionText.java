package io.ringformer.zoo.t5;

import io.ringformer.zoo.data.SplitMix64;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.DataSource;
import io.ringformer.zoo.family.Split;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * T5's pre-training data from one text (Moby Dick): windows of the text's tokens, span-corrupted
 * ({@link SpanCorruption}), as {@link Seq2SeqBatch} rows.
 *
 * <p>T5 concatenates its documents' tokens, cuts them into chunks of the raw length {@code random_spans_helper}
 * gives and corrupts each chunk. Here a row is a window of that raw length L ({@link SpanCorruption#lengthsFor}
 * of the encoder length S) at a uniform random start, drawn with replacement as the GPT's windows are, so a small
 * text gives windows at every offset and there are no epochs. Every window is full, so every row's inputs have
 * exactly L − N + K + 1 ≤ S ids and its targets exactly T = N + K + 1 (N noise tokens in K spans): nothing is
 * padded unless the helper's rounding leaves the inputs one short of S.
 *
 * <p><b>Splits.</b> The first ⌊n · trainFraction⌋ tokens are the train split, the rest the validation split; a
 * window never crosses from one into the other.
 *
 * <p><b>A row</b> of the batch of (seed, step) of a split is a pure function of (seed, step, split, row): SplitMix64
 * seeded with a hash of the four draws the window's start, then the seed of its corruption. So any rank, at any world
 * size, after any resume, computes the same global batch; the trainer hands each rank its rows of it.
 */
public final class SpanCorruptionText implements DataSource {

    private final int[] ids;
    private final int trainTokens;
    private final SpanCorruption corruption;
    private final int encoderLength;
    private final int decoderLength;
    private final int windowLength;
    private final Path path;

    private SpanCorruptionText(int[] ids, int trainTokens, SpanCorruption corruption, int encoderLength,
                               int decoderLength, int windowLength, Path path) {
        this.ids = ids;
        this.trainTokens = trainTokens;
        this.corruption = corruption;
        this.encoderLength = encoderLength;
        this.decoderLength = decoderLength;
        this.windowLength = windowLength;
        this.path = path;
    }

    /**
     * @param encoderLength S, the encoder positions of a row (T5: 512); the raw window and T follow from it
     * @param corruption    the noise: its density and mean span length also size the window
     * @param path          the text's file, for {@link #files} (the checkpoint's data fingerprint)
     * @throws IllegalArgumentException when a split is shorter than one window
     */
    public static SpanCorruptionText of(String text, TextEncoder tokenizer, double trainFraction, int encoderLength,
                                        SpanCorruption corruption, Path path) {
        if (!(trainFraction > 0 && trainFraction < 1)) {
            throw new IllegalArgumentException("train fraction must be strictly between 0 and 1, got " + trainFraction);
        }
        int window = window(encoderLength, corruption);
        int[] ids = tokenizer.encode(text);
        int train = (int) (ids.length * trainFraction);
        SpanCorruptionText data = new SpanCorruptionText(ids, train, corruption, encoderLength,
                decoderLength(encoderLength, corruption), window, path);
        for (Split split : Split.values()) {
            if (data.tokens(split) < window) {
                throw new IllegalArgumentException("the " + split.name().toLowerCase() + " split of " + path + " has "
                        + data.tokens(split) + " tokens, fewer than one window of " + window);
            }
        }
        return data;
    }

    /** The raw tokens of a row whose corrupted inputs fill {@code encoderLength} positions, EOS included. */
    static int window(int encoderLength, SpanCorruption corruption) {
        int window = corruption.lengthsFor(encoderLength).tokens();
        // The mask's own counts (float32 rounding, clamps) set the real lengths; the helper's are nearly always equal.
        if (window - corruption.noiseTokens(window) + corruption.noiseSpans(window) + 1 > encoderLength) {
            window--;
        }
        return window;
    }

    /** T, the decoder positions of a row: the noise tokens, a sentinel before each span, and EOS. */
    public static int decoderLength(int encoderLength, SpanCorruption corruption) {
        int window = window(encoderLength, corruption);
        return corruption.noiseTokens(window) + corruption.noiseSpans(window) + 1;
    }

    /** T5's noise (density 0.15, mean span 3) for a vocabulary of {@code vocabSize} ids, sentinels at its end. */
    public static SpanCorruptionText t5(String text, TextEncoder tokenizer, int vocabSize, double trainFraction,
                                        int encoderLength, Path path) {
        return of(text, tokenizer, trainFraction, encoderLength, SpanCorruption.t5(vocabSize, Seq2SeqBatch.EOS_ID),
                path);
    }

    /** Tokens in {@code split}. */
    public int tokens(Split split) {
        return split == Split.TRAIN ? trainTokens : ids.length - trainTokens;
    }

    /** L: raw tokens a row corrupts. */
    public int windowLength() {
        return windowLength;
    }

    /** S. */
    public int encoderLength() {
        return encoderLength;
    }

    /** T. */
    public int decoderLength() {
        return decoderLength;
    }

    @Override
    public List<Batch.Field> layout() {
        return Seq2SeqBatch.layout(encoderLength, decoderLength);
    }

    @Override
    public void fill(long seed, long step, Batch into) {
        fill(Split.TRAIN, seed, step, into);
    }

    /** The batch of (seed, step) of {@code split}: every row, then the loss weights. */
    public void fill(Split split, long seed, long step, Batch into) {
        into.setFilled(into.rows());
        for (int row = 0; row < into.rows(); row++) {
            SpanCorruption.Corrupted corrupted = row(split, seed, step, row);
            Seq2SeqBatch.writeRow(into, row, corrupted.inputs(), corrupted.targets());
        }
        Seq2SeqBatch.writeWeights(into);
    }

    /** Row {@code row} of the batch of (seed, step) of {@code split}, corrupted: computed alone. */
    public SpanCorruption.Corrupted row(Split split, long seed, long step, int row) {
        SplitMix64 random = new SplitMix64(rowSeed(seed, step, split, row));
        int first = windowStart(split, random);
        return corruption.corrupt(Arrays.copyOfRange(ids, first, first + windowLength), random.nextLong());
    }

    /** Where row {@code row} of the batch of (seed, step) of {@code split} starts in the text's ids. */
    public int windowStart(Split split, long seed, long step, int row) {
        return windowStart(split, new SplitMix64(rowSeed(seed, step, split, row)));
    }

    /** The row's first draw: its window's start, uniform over the split's starts. */
    private int windowStart(Split split, SplitMix64 random) {
        return (split == Split.TRAIN ? 0 : trainTokens) + random.nextInt(tokens(split) - windowLength + 1);
    }

    /** The ids of the whole text. */
    public int[] ids() {
        return ids.clone();
    }

    @Override
    public int evaluationBatches(Split split, int rows, int iterations) {
        return iterations;
    }

    /** Batch {@code index} of {@code split}, drawn as a training batch is (the trainer salts the seed). */
    @Override
    public void fillEvaluation(Split split, long seed, int index, Batch into) {
        fill(split, seed, index, into);
    }

    @Override
    public List<Path> files() {
        return List.of(path);
    }

    /** Encoder and decoder positions of a row. */
    @Override
    public int itemsPerRow() {
        return encoderLength + decoderLength;
    }

    /** (seed, step, split, row) through the SplitMix64 finaliser in turn, as the other data sources do. */
    static long rowSeed(long seed, long step, Split split, long row) {
        long h = SplitMix64.mix64(SplitMix64.mix64(SplitMix64.mix64(seed) + step) + split.ordinal());
        return SplitMix64.mix64(h + row);
    }
}
