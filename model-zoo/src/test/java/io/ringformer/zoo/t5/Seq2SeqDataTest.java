package io.ringformer.zoo.t5;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.ringformer.zoo.data.TextDataset.Rows;
import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.DataSource;
import io.ringformer.zoo.family.Split;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The two T5 data sources on real data (Moby Dick; the aligned Bible verses), with a character-level stand-in for
 * the tokenizer: purity, the rank partition, shifted targets, masks, lengths, epochs, evaluation batches.
 */
class Seq2SeqDataTest {

    static final Path MOBY_DICK = mobyDick();
    static final String TEXT = read(MOBY_DICK);
    static final CharIds CHARS = new CharIds(TEXT, BibleVersesTest.PAIRS);
    static final int S = 64;
    static final SpanCorruptionText PRETRAINING = SpanCorruptionText.t5(TEXT, CHARS, CHARS.vocabSize(), 0.9, S,
            MOBY_DICK);
    static final TranslationPairs TRANSLATION = TranslationPairs.of(BibleVersesTest.PAIRS, CHARS, 128, 160,
            List.of(BibleVerses.KJV_FILE, BibleVerses.SPARV_FILE));

    /** One id per character (from 3, after pad, EOS and unk), then the 100 sentinels: a stand-in tokenizer. */
    static final class CharIds implements TextEncoder {
        private final Map<Character, Integer> ids = new LinkedHashMap<>();

        CharIds(String text, List<BibleVerses.Pair> pairs) {
            add(text);
            pairs.forEach(p -> add(p.english() + p.spanish()));
        }

        private void add(String text) {
            for (char c : text.toCharArray()) {
                ids.putIfAbsent(c, 3 + ids.size());
            }
        }

        int vocabSize() {
            return 3 + ids.size() + SpanCorruption.SENTINELS;
        }

        @Override
        public int[] encode(String text) {
            return text.chars().map(c -> ids.getOrDefault((char) c, Seq2SeqBatch.UNK_ID)).toArray();
        }
    }

    @Test
    void pretrainingLengthsFollowTheHelper() {
        assertEquals(70, PRETRAINING.windowLength());       // random_spans_helper(64) = (70, 14)
        assertEquals(64, PRETRAINING.encoderLength());
        assertEquals(14, PRETRAINING.decoderLength());
        Batch batch = filled(PRETRAINING, 5, 2, 16);
        checkRows(batch);
        float[] encoderMask = batch.floats(Seq2SeqBatch.ENCODER_MASK);
        float[] decoderMask = batch.floats(Seq2SeqBatch.DECODER_MASK);
        for (float m : encoderMask) {
            assertEquals(1f, m, "full windows fill the encoder");
        }
        for (int i = 0; i < decoderMask.length; i++) {
            assertEquals(1f, decoderMask[i]);
            assertEquals(1f / 14, batch.floats(Seq2SeqBatch.DECODER_WEIGHTS)[i], 1e-7f, "1 / T everywhere");
        }
    }

    @Test
    void aPretrainingRowGivesBackItsWindow() {
        SpanCorruption corruption = SpanCorruption.t5(CHARS.vocabSize(), Seq2SeqBatch.EOS_ID);
        int[] ids = PRETRAINING.ids();
        for (int row = 0; row < 8; row++) {
            SpanCorruption.Corrupted corrupted = PRETRAINING.row(Split.VAL, 11, 3, row);
            int start = PRETRAINING.windowStart(Split.VAL, 11, 3, row);
            assertTrue(start >= PRETRAINING.tokens(Split.TRAIN), "a val window starts in the val split");
            int[] original = SpanCorruptionTest.reconstruct(remap(corrupted.inputs(), corruption),
                    remap(corrupted.targets(), corruption));
            assertArrayEquals(Arrays.copyOfRange(ids, start, start + 70), original);
        }
    }

    @Test
    void batchesArePureFunctionsOfSeedAndStep() {
        for (DataSource data : List.of(PRETRAINING, TRANSLATION)) {
            Batch a = filled(data, 7, 3, 12);
            Batch b = filled(data, 7, 3, 12);
            Batch nextStep = filled(data, 7, 4, 12);
            Batch otherSeed = filled(data, 8, 3, 12);
            for (String name : List.of(Seq2SeqBatch.ENCODER_TOKENS, Seq2SeqBatch.DECODER_TOKENS,
                    Seq2SeqBatch.DECODER_TARGETS)) {
                assertArrayEquals(a.ints(name), b.ints(name), name);
                assertFalse(Arrays.equals(a.ints(name), nextStep.ints(name)), name + " of another step");
                assertFalse(Arrays.equals(a.ints(name), otherSeed.ints(name)), name + " of another seed");
            }
            for (String name : List.of(Seq2SeqBatch.ENCODER_MASK, Seq2SeqBatch.DECODER_MASK,
                    Seq2SeqBatch.DECODER_WEIGHTS)) {
                assertArrayEquals(a.floats(name), b.floats(name), name);
            }
        }
    }

    @Test
    void ranksPartitionTheGlobalBatch() {
        // The trainer fills the global batch of B rows and hands rank r its Rows.of(B, r, world): the global batch
        // must not depend on who asks, and a smaller batch's rows must not be a different draw.
        int rows = 10;
        for (DataSource data : List.of(PRETRAINING, TRANSLATION)) {
            Batch global = filled(data, 3, 9, rows);
            int[] tokens = global.ints(Seq2SeqBatch.ENCODER_TOKENS);
            int width = global.width(Seq2SeqBatch.ENCODER_TOKENS);
            for (int world = 1; world <= 4; world++) {
                int[] joined = new int[0];
                for (int rank = 0; rank < world; rank++) {
                    Rows mine = Rows.of(rows, rank, world);
                    Batch again = filled(data, 3, 9, rows);   // each rank fills the global batch itself
                    int[] part = Arrays.copyOfRange(again.ints(Seq2SeqBatch.ENCODER_TOKENS), mine.first() * width,
                            (mine.first() + mine.count()) * width);
                    joined = concat(joined, part);
                }
                assertArrayEquals(tokens, joined, "world size " + world);
            }
        }
        // A translation row is the train verse trainingIndex names, computed alone.
        Batch translation = filled(TRANSLATION, 3, 9, rows);
        List<BibleVerses.Pair> train = BibleSplit.TRAIN.of(BibleVersesTest.PAIRS);
        int s = TRANSLATION.encoderLength();
        for (int row = 0; row < rows; row++) {
            int[] source = Seq2SeqBatch.withEos(CHARS.encode(train.get(TRANSLATION.trainingIndex(3, 9, rows, row))
                    .english()), s);
            assertArrayEquals(source, Arrays.copyOfRange(translation.ints(Seq2SeqBatch.ENCODER_TOKENS), row * s,
                    row * s + source.length));
        }
        // A pretraining row computed alone is the batch's row.
        Batch global = filled(PRETRAINING, 3, 9, rows);
        for (int row = 0; row < rows; row++) {
            int[] inputs = PRETRAINING.row(Split.TRAIN, 3, 9, row).inputs();
            assertArrayEquals(inputs, Arrays.copyOfRange(global.ints(Seq2SeqBatch.ENCODER_TOKENS), row * S,
                    row * S + inputs.length));
        }
    }

    @Test
    void translationRowsAreShiftedMaskedAndCut() {
        Batch batch = filled(TRANSLATION, 1, 0, 64);
        checkRows(batch);
        int s = TRANSLATION.encoderLength();
        int t = TRANSLATION.decoderLength();
        int[] encoderTokens = batch.ints(Seq2SeqBatch.ENCODER_TOKENS);
        boolean padded = false;
        for (int row = 0; row < 64; row++) {
            padded |= encoderTokens[row * s + s - 1] == Seq2SeqBatch.PAD_ID;
        }
        assertTrue(padded, "short verses are padded");
        // Weights: B / M on every target token, so they sum to B.
        double sum = 0;
        for (float w : batch.floats(Seq2SeqBatch.DECODER_WEIGHTS)) {
            sum += w;
        }
        assertEquals(64, sum, 1e-3);
        // Verses longer than the lengths keep their beginning and end with EOS.
        TranslationPairs tight = TranslationPairs.of(BibleVersesTest.PAIRS, CHARS, 32, 24, List.of());
        assertTrue(tight.truncated() > 25_000, "most verses are longer than 31 characters: " + tight.truncated());
        Batch cut = tight.newBatch(8);
        tight.fillOrdered(BibleSplit.TEST, 0, cut);
        checkRows(cut);
        BibleVerses.Pair ruth = BibleSplit.TEST.of(BibleVersesTest.PAIRS).get(0);
        assertEquals(new BibleVerses.Key("Ruth", 1, 1), ruth.key());
        int[] expected = concat(Arrays.copyOf(CHARS.encode(ruth.english()), 31), new int[] {Seq2SeqBatch.EOS_ID});
        assertArrayEquals(expected, Arrays.copyOf(cut.ints(Seq2SeqBatch.ENCODER_TOKENS), 32));
        int[] target = concat(Arrays.copyOf(CHARS.encode(ruth.spanish()), 23), new int[] {Seq2SeqBatch.EOS_ID});
        assertArrayEquals(target, Arrays.copyOf(cut.ints(Seq2SeqBatch.DECODER_TARGETS), 24));
        assertEquals(8, cut.filled());
        long longer = BibleVersesTest.PAIRS.stream()
                .filter(p -> p.english().length() > 127 || p.spanish().length() > 159).count();
        assertEquals(longer, TRANSLATION.truncated(), "verses past 127 English or 159 Spanish characters are cut");
    }

    @Test
    void trainingGoesThroughEveryTrainVerseOncePerEpoch() {
        int n = TRANSLATION.size(BibleSplit.TRAIN);
        int rows = 64;
        for (int epoch = 0; epoch < 2; epoch++) {
            boolean[] seen = new boolean[n];
            for (long position = (long) epoch * n; position < (long) (epoch + 1) * n; position++) {
                int index = TRANSLATION.trainingIndex(5, position / rows, rows, (int) (position % rows));
                assertFalse(seen[index], "verse " + index + " twice in epoch " + epoch);
                seen[index] = true;
            }
        }
        assertFalse(TRANSLATION.trainingIndex(5, 0, rows, 0) == TRANSLATION.trainingIndex(5, n / rows, rows,
                n % rows) && TRANSLATION.trainingIndex(5, 0, rows, 1) == TRANSLATION.trainingIndex(5, (n + 1) / rows,
                rows, (n + 1) % rows), "each epoch has its own order");
    }

    @Test
    void validationCoversTheValidationBooksOnceInOrder() {
        int rows = 64;
        int n = TRANSLATION.size(BibleSplit.VALIDATION);
        assertEquals(591, n);
        int batches = TRANSLATION.evaluationBatches(Split.VAL, rows, 3);
        assertEquals(10, batches);                             // ⌈591 / 64⌉
        assertEquals(3, TRANSLATION.evaluationBatches(Split.TRAIN, rows, 3));
        List<BibleVerses.Pair> validation = BibleSplit.VALIDATION.of(BibleVersesTest.PAIRS);
        int s = TRANSLATION.encoderLength();
        int seen = 0;
        for (int i = 0; i < batches; i++) {
            Batch batch = TRANSLATION.newBatch(rows);
            Arrays.fill(batch.ints(Seq2SeqBatch.ENCODER_TOKENS), 77);            // stale values must go
            TRANSLATION.fillEvaluation(Split.VAL, 99, i, batch);
            checkRows(batch);
            for (int row = 0; row < batch.filled(); row++) {
                int[] source = CHARS.encode(validation.get(seen++).english());
                assertEquals(source[0], batch.ints(Seq2SeqBatch.ENCODER_TOKENS)[row * s]);
            }
            for (int row = batch.filled(); row < rows; row++) {
                for (int k = 0; k < s; k++) {
                    assertEquals(Seq2SeqBatch.PAD_ID, batch.ints(Seq2SeqBatch.ENCODER_TOKENS)[row * s + k]);
                }
            }
        }
        assertEquals(591, seen);
        assertEquals(new BibleVerses.Key("Esther", 1, 1), TRANSLATION.key(BibleSplit.VALIDATION, 0));
    }

    /**
     * Every filled row: encoder ids then padding, EOS last, the mask 1 exactly on the ids; decoder targets then −1,
     * EOS last; decoder tokens = PAD then the targets shifted right by one; the decoder mask 1 exactly on the
     * targets; weights only there. Lengths within S and T by construction of the arrays.
     */
    static void checkRows(Batch batch) {
        int s = batch.width(Seq2SeqBatch.ENCODER_TOKENS);
        int t = batch.width(Seq2SeqBatch.DECODER_TOKENS);
        int[] encoderTokens = batch.ints(Seq2SeqBatch.ENCODER_TOKENS);
        float[] encoderMask = batch.floats(Seq2SeqBatch.ENCODER_MASK);
        int[] decoderTokens = batch.ints(Seq2SeqBatch.DECODER_TOKENS);
        int[] targets = batch.ints(Seq2SeqBatch.DECODER_TARGETS);
        float[] decoderMask = batch.floats(Seq2SeqBatch.DECODER_MASK);
        float[] weights = batch.floats(Seq2SeqBatch.DECODER_WEIGHTS);
        for (int row = 0; row < batch.filled(); row++) {
            int sourceLength = 0;
            while (sourceLength < s && encoderTokens[row * s + sourceLength] != Seq2SeqBatch.PAD_ID) {
                sourceLength++;
            }
            assertTrue(sourceLength >= 2, "row " + row + " has a source");
            assertEquals(Seq2SeqBatch.EOS_ID, encoderTokens[row * s + sourceLength - 1], "source ends with EOS");
            for (int k = 0; k < s; k++) {
                assertEquals(k < sourceLength ? 1f : 0f, encoderMask[row * s + k], "encoder mask, row " + row);
                if (k >= sourceLength) {
                    assertEquals(Seq2SeqBatch.PAD_ID, encoderTokens[row * s + k]);
                }
            }
            int targetLength = 0;
            while (targetLength < t && targets[row * t + targetLength] != Seq2SeqBatch.NO_TARGET) {
                targetLength++;
            }
            assertEquals(Seq2SeqBatch.EOS_ID, targets[row * t + targetLength - 1], "target ends with EOS");
            assertEquals(Seq2SeqBatch.PAD_ID, decoderTokens[row * t], "the decoder starts with PAD");
            for (int k = 0; k < t; k++) {
                boolean real = k < targetLength;
                assertEquals(real ? 1f : 0f, decoderMask[row * t + k], "decoder mask, row " + row);
                assertEquals(real, weights[row * t + k] > 0, "weights on targets only, row " + row);
                if (k >= 1 && real) {
                    assertEquals(targets[row * t + k - 1], decoderTokens[row * t + k], "shifted right");
                }
                if (!real) {
                    assertEquals(Seq2SeqBatch.NO_TARGET, targets[row * t + k]);
                    assertEquals(Seq2SeqBatch.PAD_ID, decoderTokens[row * t + k]);
                }
            }
        }
    }

    static Batch filled(DataSource data, long seed, long step, int rows) {
        Batch batch = data.newBatch(rows);
        data.fill(seed, step, batch);
        return batch;
    }

    /** The stand-in's sentinels sit at vocabSize − 1 down; SpanCorruptionTest's reconstruct expects 999 down. */
    static int[] remap(int[] ids, SpanCorruption corruption) {
        int shift = 999 - (CHARS.vocabSize() - 1);
        return Arrays.stream(ids).map(id -> corruption.isSentinel(id) ? id + shift : id).toArray();
    }

    static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static Path mobyDick() {
        for (Path candidate : new Path[] {Path.of("data/moby-dick.txt"), Path.of("../data/moby-dick.txt")}) {
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return fail("data/moby-dick.txt is missing: run launch/fetch-data.sh first");
    }

    static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
