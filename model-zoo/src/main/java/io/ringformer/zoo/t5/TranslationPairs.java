package io.ringformer.zoo.t5;

import io.ringformer.zoo.data.SplitMix64;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.DataSource;
import io.ringformer.zoo.family.Split;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * T5's fine-tuning data: aligned Bible verses ({@link BibleVerses}), English source to Spanish target, as
 * {@link Seq2SeqBatch} rows. The source is the English verse's ids with no task prefix (the recipe has one task).
 *
 * <p><b>Lengths.</b> A source longer than S − 1 ids keeps its first S − 1 and EOS, a target longer than T − 1 its
 * first T − 1 and EOS (seqio's {@code append_eos_after_trim}): a cut verse still teaches where a sentence goes, and
 * dropping long verses would drop the long-sentence books (Ezra's lists, Paul's periods) from training.
 * {@link #truncated} counts them.
 *
 * <p><b>Training batches</b> go through the train split in epochs, each verse once per epoch: the global batch of B
 * rows at step s holds the verses at positions sB … sB + B − 1 of the sequence made of one shuffle of the split per
 * epoch (position p is in epoch ⌊p / n⌋, at place p mod n of that epoch's shuffle, a Fisher–Yates permutation drawn
 * from SplitMix64 seeded by a hash of (seed, epoch)). So a row is a pure function of (seed, step, B, row), and of
 * nothing a rank or a resume could change.
 *
 * <p><b>Evaluation</b> of {@link Split#VAL} covers the validation books once, in order, in ⌈n / B⌉ batches (the last
 * one short); {@link Split#TRAIN} evaluates {@code eval.iters} batches drawn as training batches of steps 0, 1, ….
 * The test books ({@link BibleSplit#TEST}) are never in a training run's batches: {@link #fillOrdered} serves them to
 * the final measurement.
 */
public final class TranslationPairs implements DataSource {

    /** One verse's ids, each ending with EOS and within the lengths. */
    record Example(BibleVerses.Key key, int[] source, int[] target) {}

    private final Map<BibleSplit, List<Example>> examples;
    private final int encoderLength;
    private final int decoderLength;
    private final int truncated;
    private final List<Path> files;
    private long shuffledEpoch = -1;
    private long shuffledSeed;
    private int[] shuffle;

    private TranslationPairs(Map<BibleSplit, List<Example>> examples, int encoderLength, int decoderLength,
                             int truncated, List<Path> files) {
        this.examples = examples;
        this.encoderLength = encoderLength;
        this.decoderLength = decoderLength;
        this.truncated = truncated;
        this.files = files;
    }

    /**
     * @param pairs         aligned verses; each goes to the split of its book ({@link BibleSplit#of})
     * @param tokenizer     English and Spanish text to ids (one shared vocabulary, as T5's)
     * @param encoderLength S: source ids a row holds, EOS included; at least 2
     * @param decoderLength T: target ids a row holds, EOS included; at least 2
     * @param files         the exports, for {@link #files} (the checkpoint's data fingerprint)
     * @throws IllegalArgumentException when a split has no verse
     */
    public static TranslationPairs of(List<BibleVerses.Pair> pairs, TextEncoder tokenizer, int encoderLength,
                                      int decoderLength, List<Path> files) {
        if (encoderLength < 2 || decoderLength < 2) {
            throw new IllegalArgumentException("encoder and decoder lengths must hold an id and EOS, got "
                    + encoderLength + " and " + decoderLength);
        }
        Map<BibleSplit, List<Example>> examples = new EnumMap<>(BibleSplit.class);
        for (BibleSplit split : BibleSplit.values()) {
            examples.put(split, new ArrayList<>());
        }
        int truncated = 0;
        for (BibleVerses.Pair pair : pairs) {
            int[] source = tokenizer.encode(pair.english());
            int[] target = tokenizer.encode(pair.spanish());
            if (source.length > encoderLength - 1 || target.length > decoderLength - 1) {
                truncated++;
            }
            examples.get(BibleSplit.of(pair.key().book())).add(new Example(pair.key(),
                    Seq2SeqBatch.withEos(source, encoderLength), Seq2SeqBatch.withEos(target, decoderLength)));
        }
        for (BibleSplit split : BibleSplit.values()) {
            if (examples.get(split).isEmpty()) {
                throw new IllegalArgumentException("the " + split.name().toLowerCase() + " split has no verse");
            }
        }
        return new TranslationPairs(examples, encoderLength, decoderLength, truncated, List.copyOf(files));
    }

    /** Verses in {@code split}. */
    public int size(BibleSplit split) {
        return examples.get(split).size();
    }

    /** Verses whose source or target was cut to fit. */
    public int truncated() {
        return truncated;
    }

    /** The key of verse {@code index} of {@code split}, in canonical order. */
    public BibleVerses.Key key(BibleSplit split, int index) {
        return examples.get(split).get(index).key();
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

    /** The training batch of (seed, step): B = {@code into.rows()} verses of the train split's epochs. */
    @Override
    public void fill(long seed, long step, Batch into) {
        into.setFilled(into.rows());
        for (int row = 0; row < into.rows(); row++) {
            Example example = examples.get(BibleSplit.TRAIN).get(trainingIndex(seed, step, into.rows(), row));
            Seq2SeqBatch.writeRow(into, row, example.source(), example.target());
        }
        Seq2SeqBatch.writeWeights(into);
    }

    /** Which verse of the train split row {@code row} of the batch of (seed, step), B = {@code rows}, holds. */
    public synchronized int trainingIndex(long seed, long step, int rows, int row) {
        int n = size(BibleSplit.TRAIN);
        long position = step * rows + row;
        long epoch = position / n;
        if (epoch != shuffledEpoch || seed != shuffledSeed || shuffle == null) {
            shuffle = shuffle(n, SplitMix64.mix64(SplitMix64.mix64(seed) + epoch));
            shuffledEpoch = epoch;
            shuffledSeed = seed;
        }
        return shuffle[(int) (position % n)];
    }

    /** A uniform permutation of [0, n): Fisher–Yates. */
    private static int[] shuffle(int n, long seed) {
        SplitMix64 random = new SplitMix64(seed);
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        return order;
    }

    @Override
    public int evaluationBatches(Split split, int rows, int iterations) {
        return split == Split.TRAIN ? iterations : (size(BibleSplit.VALIDATION) + rows - 1) / rows;
    }

    @Override
    public void fillEvaluation(Split split, long seed, int index, Batch into) {
        if (split == Split.TRAIN) {
            fill(seed, index, into);
        } else {
            fillOrdered(BibleSplit.VALIDATION, index, into);
        }
    }

    /**
     * Batch {@code index} of {@code split} in canonical order: verses [index · B, index · B + B), fewer in the last
     * batch ({@code into.filled()} says how many; the rows after are cleared).
     */
    public void fillOrdered(BibleSplit split, int index, Batch into) {
        List<Example> verses = examples.get(split);
        int first = index * into.rows();
        if (index < 0 || first >= verses.size()) {
            throw new IllegalArgumentException("batch " + index + " of " + into.rows() + " rows is past the "
                    + verses.size() + " verses of the " + split.name().toLowerCase() + " split");
        }
        int count = Math.min(into.rows(), verses.size() - first);
        into.setFilled(count);
        for (int row = 0; row < into.rows(); row++) {
            if (row < count) {
                Example example = verses.get(first + row);
                Seq2SeqBatch.writeRow(into, row, example.source(), example.target());
            } else {
                Seq2SeqBatch.clearRow(into, row);
            }
        }
        Seq2SeqBatch.writeWeights(into);
    }

    @Override
    public List<Path> files() {
        return files;
    }

    /** Encoder and decoder positions of a row. */
    @Override
    public int itemsPerRow() {
        return encoderLength + decoderLength;
    }
}
