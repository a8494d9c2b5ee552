package io.ringformer.zoo.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.ringformer.zoo.family.Batch;
import io.ringformer.zoo.family.Split;
import io.ringformer.zoo.text.WordPieceTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** BERT's data on Moby Dick: sentences, pairs, packing, masking statistics, purity and loss weights. */
class SentencePairsTest {

    static final Path MOBY_DICK = mobyDick();
    static final String TEXT = read(MOBY_DICK);
    static final WordPieceTokenizer TOKENIZER = WordPieceTokenizer.train(SentencePairs.trainText(TEXT, 0.9), 500);
    static final int T = 48;
    static final SentencePairs DATA = SentencePairs.of(TEXT, TOKENIZER, 0.9, T, 0.15, MOBY_DICK);

    /** Sentence pairs of 32 tokens, made on first use: what the model tests train on. */
    private static final class Short {
        static final SentencePairs DATA = SentencePairs.of(TEXT, TOKENIZER, 0.9, 32, 0.15, MOBY_DICK);
    }

    /** The first {@code rows} rows of the train split's batch of (seed, step 1), 32 tokens a row (some padded). */
    static Batch trainBatch(int rows, long seed) {
        return batch(Short.DATA, Split.TRAIN, seed, 1, rows);
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

    static Batch batch(Split split, long seed, long step, int rows) {
        return batch(DATA, split, seed, step, rows);
    }

    private static Batch batch(SentencePairs data, Split split, long seed, long step, int rows) {
        Batch batch = data.newBatch(rows);
        data.fill(split, seed, step, batch);
        return batch;
    }

    @Test
    void sentencesEndAtStopMarksBeforeWhitespaceAndAtBlankLines() {
        String text = "CHAPTER 1. Loomings.\n\nCall me Ishmael. Some years ago—never\nmind how long! Why?Not here.\n"
                + "Heading\n\n\n  Last one";
        assertEquals(List.of("CHAPTER 1.", "Loomings.", "Call me Ishmael.", "Some years ago—never mind how long!",
                "Why?Not here.", "Heading", "Last one"), SentencePairs.sentences(text));
        int sentences = DATA.sentences(Split.TRAIN) + DATA.sentences(Split.VAL);
        assertTrue(sentences > 8000 && DATA.sentences(Split.VAL) > 500, sentences + " sentences");
        assertArrayEquals(TOKENIZER.encode("CHAPTER 1."), DATA.sentence(Split.TRAIN, 0));
    }

    @Test
    void rowsArePackedAsClsASepBSepThenPads() {
        Batch batch = batch(Split.TRAIN, 3, 0, 64);
        int[] tokens = batch.ints(Bert.TOKENS);
        int[] segments = batch.ints(Bert.SEGMENTS);
        float[] mask = batch.floats(Bert.MASK);
        int padded = 0;
        for (int row = 0; row < 64; row++) {
            int o = row * T;
            assertEquals(WordPieceTokenizer.CLS_ID, tokens[o]);
            int real = 0;
            while (real < T && mask[o + real] == 1f) {
                real++;
            }
            for (int t = real; t < T; t++) {
                assertEquals(0f, mask[o + t]);
                assertEquals(WordPieceTokenizer.PAD_ID, tokens[o + t]);
                assertEquals(0, segments[o + t]);
            }
            padded += real < T ? 1 : 0;
            assertEquals(WordPieceTokenizer.SEP_ID, tokens[o + real - 1], "row " + row + " ends in [SEP]");
            int firstSep = -1;
            for (int t = 1; t < real - 1; t++) {
                if (tokens[o + t] == WordPieceTokenizer.SEP_ID) {
                    assertEquals(-1, firstSep, "one [SEP] between A and B in row " + row);
                    firstSep = t;
                }
            }
            assertTrue(firstSep > 1 && firstSep < real - 2, "A and B each hold a token, row " + row);
            for (int t = 0; t < real; t++) {
                assertEquals(t <= firstSep ? 0 : 1, segments[o + t], "segment at " + t + " of row " + row);
            }
        }
        assertTrue(padded > 5 && padded < 64, padded + " rows padded: short pairs pad, long ones are truncated");
    }

    /** An IsNext row's B is the sentence after its A (checked on rows that were not truncated). */
    @Test
    void anIsNextRowHoldsTwoConsecutiveSentences() {
        Batch batch = batch(Split.TRAIN, 5, 2, 200);
        int checked = 0;
        for (int row = 0; row < 200; row++) {
            int[] original = originals(batch, row);
            int sep = indexOf(original, WordPieceTokenizer.SEP_ID, 1);
            int end = indexOf(original, WordPieceTokenizer.SEP_ID, sep + 1);
            if (end == T - 1 || batch.ints(Bert.NSP_LABEL)[row] != SentencePairs.IS_NEXT) {
                continue;                                // a full row may have been truncated
            }
            int[] a = Arrays.copyOfRange(original, 1, sep);
            int[] b = Arrays.copyOfRange(original, sep + 1, end);
            boolean found = false;
            for (int s = 0; s + 1 < DATA.sentences(Split.TRAIN) && !found; s++) {
                found = Arrays.equals(a, DATA.sentence(Split.TRAIN, s))
                        && Arrays.equals(b, DATA.sentence(Split.TRAIN, s + 1));
            }
            assertTrue(found, "row " + row + " is labelled IsNext, but its B does not follow its A");
            checked++;
        }
        assertTrue(checked > 20, checked + " untruncated IsNext rows checked");
    }

    /** The tokens before masking: the MLM target where there is one. */
    static int[] originals(Batch batch, int row) {
        int[] original = Arrays.copyOfRange(batch.ints(Bert.TOKENS), row * T, (row + 1) * T);
        for (int t = 0; t < T; t++) {
            int target = batch.ints(Bert.MLM_TARGETS)[row * T + t];
            if (target >= 0) {
                original[t] = target;
            }
        }
        return original;
    }

    private static int indexOf(int[] values, int value, int from) {
        for (int i = from; i < values.length; i++) {
            if (values[i] == value) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Over 4000 rows: 15% of the ordinary tokens are chosen (rounding per row, at least one), of those 80% become
     * [MASK], 10% a random token, 10% stay; half the pairs are IsNext. Bounds are ±5 standard errors or wider.
     */
    @Test
    void maskingAndNextSentenceStatistics() {
        int rows = 4000;
        Batch batch = batch(Split.TRAIN, 11, 7, rows);
        int[] tokens = batch.ints(Bert.TOKENS);
        int[] targets = batch.ints(Bert.MLM_TARGETS);
        long ordinary = 0, chosen = 0, masked = 0, random = 0, kept = 0;
        for (int row = 0; row < rows; row++) {
            int rowChosen = 0;
            for (int t = 0; t < T; t++) {
                int i = row * T + t;
                int original = targets[i] >= 0 ? targets[i] : tokens[i];
                if (batch.floats(Bert.MASK)[i] == 1f && original >= SentencePairs.FIRST_ORDINARY_ID) {
                    ordinary++;
                }
                if (targets[i] < 0) {
                    continue;
                }
                assertTrue(targets[i] >= SentencePairs.FIRST_ORDINARY_ID, "a special token is never a target");
                rowChosen++;
                if (tokens[i] == WordPieceTokenizer.MASK_ID) {
                    masked++;
                } else if (tokens[i] == targets[i]) {
                    kept++;
                } else {
                    assertTrue(tokens[i] >= SentencePairs.FIRST_ORDINARY_ID, "a random token is not special");
                    random++;
                }
            }
            assertTrue(rowChosen >= 1, "row " + row + " predicts at least one token");
            chosen += rowChosen;
        }
        double share = (double) chosen / ordinary;
        System.out.printf("MLM over %d rows: %d of %d ordinary tokens chosen (%.4f); [MASK] %.4f, random %.4f, "
                        + "kept %.4f%n", rows, chosen, ordinary, share, (double) masked / chosen,
                (double) random / chosen, (double) kept / chosen);
        assertEquals(0.15, share, 0.005);
        assertEquals(0.8, (double) masked / chosen, 0.015);
        assertEquals(0.1, (double) random / chosen, 0.012);
        assertEquals(0.1, (double) kept / chosen, 0.012);
        double isNext = Arrays.stream(batch.ints(Bert.NSP_LABEL)).average().orElseThrow();
        assertEquals(0.5, isNext, 0.04);
    }

    @Test
    void aBatchIsAPureFunctionOfSeedStepAndSplitAndARowCanBeFilledAlone() {
        Batch one = batch(Split.TRAIN, 9, 4, 12);
        Batch again = batch(Split.TRAIN, 9, 4, 12);
        for (String name : List.of(Bert.TOKENS, Bert.SEGMENTS, Bert.MLM_TARGETS, Bert.NSP_LABEL)) {
            assertArrayEquals(one.ints(name), again.ints(name), name);
        }
        assertArrayEquals(one.floats(Bert.MLM_WEIGHTS), again.floats(Bert.MLM_WEIGHTS));
        assertFalse(Arrays.equals(one.ints(Bert.TOKENS), batch(Split.TRAIN, 9, 5, 12).ints(Bert.TOKENS)));
        assertFalse(Arrays.equals(one.ints(Bert.TOKENS), batch(Split.TRAIN, 10, 4, 12).ints(Bert.TOKENS)));
        assertFalse(Arrays.equals(one.ints(Bert.TOKENS), batch(Split.VAL, 9, 4, 12).ints(Bert.TOKENS)));

        for (int row : new int[] {0, 5, 11}) {
            Batch alone = DATA.newBatch(1);
            DATA.fillRow(Split.TRAIN, 9, 4, row, alone, 0);
            for (String name : List.of(Bert.TOKENS, Bert.SEGMENTS, Bert.MLM_TARGETS)) {
                assertArrayEquals(Arrays.copyOfRange(one.ints(name), row * T, (row + 1) * T), alone.ints(name),
                        name + " of row " + row);
            }
            assertArrayEquals(Arrays.copyOfRange(one.floats(Bert.MASK), row * T, (row + 1) * T),
                    alone.floats(Bert.MASK));
            assertEquals(one.ints(Bert.NSP_LABEL)[row], alone.ints(Bert.NSP_LABEL)[0]);
        }
        // A larger batch starts with the rows of a smaller one.
        Batch larger = batch(Split.TRAIN, 9, 4, 20);
        assertArrayEquals(one.ints(Bert.TOKENS), Arrays.copyOf(larger.ints(Bert.TOKENS), 12 * T));
    }

    /** Weights B / M at the M chosen positions: they sum to B, so the rows' mean of Σₜ w·CE is Σ CE / M. */
    @Test
    void weightsAreRowsOverMaskedTokensAtTheMaskedPositions() {
        Batch batch = batch(Split.VAL, 1, 0, 16);
        int[] targets = batch.ints(Bert.MLM_TARGETS);
        float[] weights = batch.floats(Bert.MLM_WEIGHTS);
        long m = Arrays.stream(targets).filter(t -> t >= 0).count();
        double sum = 0;
        for (int i = 0; i < targets.length; i++) {
            assertEquals(targets[i] >= 0 ? 16.0f / m : 0f, weights[i], 1e-7f);
            sum += weights[i];
        }
        assertEquals(16.0, sum, 1e-4);
    }

    @Test
    void aTextTooShortOrABadSeqLenIsRefused() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> SentencePairs.of("One. Two. Three. Four.", TOKENIZER, 0.5, T, 0.15, MOBY_DICK));
        assertTrue(e.getMessage().contains("at least 3"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SentencePairs.of(TEXT, TOKENIZER, 0.9, 4, 0.15, MOBY_DICK));
    }
}
