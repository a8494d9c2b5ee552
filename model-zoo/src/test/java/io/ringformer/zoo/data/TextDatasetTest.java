package io.ringformer.zoo.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.data.TextDataset.Batch;
import io.ringformer.zoo.data.TextDataset.Rows;
import io.ringformer.zoo.data.TextDataset.Split;
import io.ringformer.zoo.text.CharTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class TextDatasetTest {

    static final long SEED = 1337;
    static final int BLOCK = 16;

    static String text;         // the opening of Moby-Dick, public domain
    static int[] codePoints;    // the text's characters, to check batches against without the tokenizer
    static CharTokenizer tokenizer;
    static TextDataset dataset;

    @BeforeAll
    static void readText() throws IOException {
        try (InputStream in = TextDatasetTest.class.getResourceAsStream("/io/ringformer/zoo/moby-dick-opening.txt")) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        codePoints = text.codePoints().toArray();
        tokenizer = CharTokenizer.fit(text);
        dataset = TextDataset.of(text, tokenizer, 0.9);
    }

    @Test
    void trainIsTheFirstNinetyPercentAndValTheRest() {
        assertEquals((int) (codePoints.length * 0.9), dataset.tokens(Split.TRAIN));
        assertEquals(codePoints.length - (int) (codePoints.length * 0.9), dataset.tokens(Split.VAL));
        assertEquals(dataset.tokens(Split.TRAIN), dataset.firstToken(Split.VAL));

        TextDataset half = new TextDataset(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.5);
        assertEquals(5, half.tokens(Split.TRAIN));
        assertEquals(6, half.tokens(Split.VAL));
    }

    @Test
    void sameSeedAndStepGiveTheSameBatchInAnotherInstance() {
        TextDataset elsewhere = TextDataset.of(text, CharTokenizer.fit(text), 0.9); // as another process would
        Batch batch = dataset.batch(Split.TRAIN, SEED, 42, 12, BLOCK);
        Batch again = elsewhere.batch(Split.TRAIN, SEED, 42, 12, BLOCK);

        assertEquals(DataType.INT32, batch.tokens().dataType());
        assertEquals(DataType.INT32, batch.targets().dataType());
        assertArrayEquals(new long[] {12, BLOCK}, batch.tokens().shape());
        assertArrayEquals(new long[] {12, BLOCK}, batch.targets().shape());
        assertArrayEquals(batch.tokens().toIntMatrix(), again.tokens().toIntMatrix());
        assertArrayEquals(batch.targets().toIntMatrix(), again.targets().toIntMatrix());
    }

    @Test
    void differentStepSeedOrSplitGiveDifferentWindows() {
        int[] starts = dataset.windowStarts(Split.TRAIN, SEED, 42, 12, BLOCK);
        assertFalse(Arrays.equals(starts, dataset.windowStarts(Split.TRAIN, SEED, 43, 12, BLOCK)));
        assertFalse(Arrays.equals(starts, dataset.windowStarts(Split.TRAIN, SEED + 1, 42, 12, BLOCK)));
        assertNotEquals(TextDataset.batchSeed(SEED, 42, Split.TRAIN), TextDataset.batchSeed(SEED, 42, Split.VAL));
        assertFalse(Arrays.equals(dataset.batch(Split.TRAIN, SEED, 42, 12, BLOCK).tokens().toIntMatrix(),
                dataset.batch(Split.TRAIN, SEED, 43, 12, BLOCK).tokens().toIntMatrix()));
    }

    /**
     * Pinned values, computed by an independent Python SplitMix64: if the generator or the seed mixing changes,
     * resumed runs would silently see other data.
     */
    @Test
    void windowStartsArePinnedAcrossVersions() {
        assertArrayEquals(new int[] {509, 224, 531, 514}, dataset.windowStarts(Split.TRAIN, SEED, 0, 4, BLOCK));
        assertArrayEquals(new int[] {774, 781, 776, 832}, dataset.windowStarts(Split.VAL, SEED, 7, 4, BLOCK));
    }

    @Test
    void rowsAreWindowsOfTheSourceTextWithTargetsShiftedByOne() {
        for (Split split : Split.values()) {
            int[] starts = dataset.windowStarts(split, SEED, 5, 8, BLOCK);
            Batch batch = dataset.batch(split, SEED, 5, 8, BLOCK);
            int[][] tokens = batch.tokens().toIntMatrix();
            int[][] targets = batch.targets().toIntMatrix();
            for (int row = 0; row < starts.length; row++) {
                int s = starts[row];
                assertEquals(new String(codePoints, s, BLOCK), tokenizer.decode(tokens[row]));
                assertEquals(new String(codePoints, s + 1, BLOCK), tokenizer.decode(targets[row]));
                for (int t = 0; t + 1 < BLOCK; t++) {
                    assertEquals(tokens[row][t + 1], targets[row][t]);
                }
            }
        }
    }

    @Test
    void windowsNeverLeaveTheirSplit() {
        int n = codePoints.length;
        int boundary = dataset.tokens(Split.TRAIN);
        for (long step = 0; step < 300; step++) {
            for (int s : dataset.windowStarts(Split.TRAIN, SEED, step, 12, BLOCK)) {
                assertTrue(s >= 0 && s + BLOCK + 1 <= boundary, "train window at " + s + " crosses " + boundary);
            }
            for (int s : dataset.windowStarts(Split.VAL, SEED, step, 12, BLOCK)) {
                assertTrue(s >= boundary && s + BLOCK + 1 <= n, "val window at " + s + " leaves [" + boundary
                        + ", " + n + ")");
            }
        }
        int[][] val = dataset.batch(Split.VAL, SEED, 3, 12, BLOCK).targets().toIntMatrix();
        String valText = new String(codePoints, boundary, n - boundary);
        for (int[] row : val) {
            assertTrue(valText.contains(tokenizer.decode(row)));
        }
    }

    @Test
    void everyStartOfTheSplitIsDrawnAndNoneBeyond() {
        TextDataset small = new TextDataset(IntStream.range(0, 30).toArray(), 0.9); // train: ids 0..26
        boolean[] seen = new boolean[27];
        for (long step = 0; step < 100; step++) {
            for (int s : small.windowStarts(Split.TRAIN, SEED, step, 8, 4)) {
                seen[s] = true; // out of bounds past 26 would fail here
            }
        }
        for (int s = 0; s < seen.length; s++) {
            assertEquals(s <= 27 - 4 - 1, seen[s], "start " + s); // last valid start: 27 − T − 1 = 22
        }
    }

    @Test
    void slicesOfAllRanksConcatenateToTheGlobalBatch() {
        for (int globalBatch : new int[] {7, 12}) {
            for (int worldSize = 1; worldSize <= 3; worldSize++) {
                Batch global = dataset.batch(Split.TRAIN, SEED, 9, globalBatch, BLOCK);
                List<INDArray> tokens = new ArrayList<>();
                List<INDArray> targets = new ArrayList<>();
                for (int rank = 0; rank < worldSize; rank++) {
                    Batch slice = dataset.slice(Split.TRAIN, SEED, 9, globalBatch, BLOCK, rank, worldSize);
                    int expectedRows = globalBatch / worldSize + (rank < globalBatch % worldSize ? 1 : 0);
                    assertEquals(expectedRows, slice.tokens().rows(), globalBatch + " rows over " + worldSize);
                    tokens.add(slice.tokens());
                    targets.add(slice.targets());
                }
                String where = "global batch " + globalBatch + ", world size " + worldSize;
                assertArrayEquals(global.tokens().toIntMatrix(),
                        Nd4j.concat(0, tokens.toArray(INDArray[]::new)).toIntMatrix(), where);
                assertArrayEquals(global.targets().toIntMatrix(),
                        Nd4j.concat(0, targets.toArray(INDArray[]::new)).toIntMatrix(), where);
            }
        }
    }

    @Test
    void unevenRowsGoToTheFirstRanks() {
        assertEquals(new Rows(0, 3), Rows.of(7, 0, 3));
        assertEquals(new Rows(3, 2), Rows.of(7, 1, 3));
        assertEquals(new Rows(5, 2), Rows.of(7, 2, 3));
        assertEquals(new Rows(6, 6), Rows.of(12, 1, 2));
    }

    @Test
    void tooShortASplitIsReportedWithItsLength() {
        TextDataset small = new TextDataset(IntStream.range(0, 20).toArray(), 0.9); // val: 2 tokens
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> small.batch(Split.VAL, SEED, 0, 4, 2));
        assertTrue(error.getMessage().contains("VAL split has 2 tokens"), error.getMessage());
        assertTrue(error.getMessage().contains("blockSize + 1 = 3"), error.getMessage());
        assertEquals(1, small.batch(Split.VAL, SEED, 0, 4, 1).tokens().columns()); // 2 tokens: one window of 1
    }

    @Test
    void badArgumentsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new TextDataset(new int[] {1, 2, 3}, 1.0));
        assertThrows(IllegalArgumentException.class, () -> new TextDataset(new int[] {1, 2, 3}, 0.0));
        assertThrows(IllegalArgumentException.class, () -> new TextDataset(new int[] {1, 2, 3}, Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> new TextDataset(new int[] {1, -1, 3}, 0.5));
        assertThrows(IllegalArgumentException.class, () -> dataset.batch(Split.TRAIN, SEED, -1, 4, BLOCK));
        assertThrows(IllegalArgumentException.class, () -> dataset.batch(Split.TRAIN, SEED, 0, 0, BLOCK));
        assertThrows(IllegalArgumentException.class, () -> dataset.batch(Split.TRAIN, SEED, 0, 4, 0));
        assertThrows(IllegalArgumentException.class, () -> dataset.slice(Split.TRAIN, SEED, 0, 4, BLOCK, 3, 3));
        assertThrows(IllegalArgumentException.class, () -> dataset.slice(Split.TRAIN, SEED, 0, 4, BLOCK, -1, 3));
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> dataset.slice(Split.TRAIN, SEED, 0, 2, BLOCK, 0, 3));
        assertTrue(error.getMessage().contains("global batch 2 is smaller than world size 3"), error.getMessage());
    }

    @Test
    void fillWritesTheWindowsOfTheSourceText() {
        for (Split split : Split.values()) {
            int[] starts = dataset.windowStarts(split, SEED, 7, 5, BLOCK);
            int[] tokens = new int[5 * BLOCK];
            int[] targets = new int[5 * BLOCK];
            dataset.fill(split, SEED, 7, 5, BLOCK, tokens, targets);
            for (int row = 0; row < 5; row++) {
                int s = starts[row];
                int[] x = Arrays.copyOfRange(tokens, row * BLOCK, (row + 1) * BLOCK);
                int[] y = Arrays.copyOfRange(targets, row * BLOCK, (row + 1) * BLOCK);
                assertEquals(new String(codePoints, s, BLOCK), tokenizer.decode(x));
                assertEquals(new String(codePoints, s + 1, BLOCK), tokenizer.decode(y));
            }
        }
        assertThrows(IllegalArgumentException.class,
                () -> dataset.fill(Split.TRAIN, SEED, 7, 5, BLOCK, new int[4 * BLOCK], new int[5 * BLOCK]));
    }
}
