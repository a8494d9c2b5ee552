package io.ringformer.zoo.vision;

import static io.ringformer.zoo.vision.ImageDataset.PIXELS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.data.TextDataset.Rows;
import io.ringformer.zoo.vision.ImageDataset.Split;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageDatasetTest {

    static final long SEED = 1337;

    @Test
    void fashionMnistHasItsOwnSplitWithSixThousandTrainImagesPerClass() {
        ImageDataset fashion = RealImages.fashionMnist();
        assertEquals("fashion-mnist", fashion.name());
        assertEquals(60_000, fashion.size(Split.TRAIN));
        assertEquals(10_000, fashion.size(Split.TEST));
        assertEquals(List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                "Bag", "Ankle boot"), fashion.classNames());
        int[] train = labelCounts(fashion, Split.TRAIN);
        int[] test = labelCounts(fashion, Split.TEST);
        for (int c = 0; c < 10; c++) {
            assertEquals(6_000, train[c], "train images of class " + c);
            assertEquals(1_000, test[c], "test images of class " + c);
        }
    }

    @Test
    void mnistTestsOnEveryFifthImageOfEachDigit() {
        ImageDataset mnist = RealImages.mnist();
        assertEquals("mnist", mnist.name());
        assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), mnist.classNames());
        assertEquals(10_000, mnist.size(Split.TRAIN) + mnist.size(Split.TEST));
        int[] perDigit = {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978}; // the package's
        int[] train = labelCounts(mnist, Split.TRAIN);
        int[] test = labelCounts(mnist, Split.TEST);
        for (int d = 0; d < 10; d++) {
            assertEquals(perDigit[d] / 5, test[d], "test images of digit " + d);
            assertEquals(perDigit[d] - perDigit[d] / 5, train[d], "train images of digit " + d);
        }
        assertEquals(8_004, mnist.size(Split.TRAIN));
        assertEquals(1_996, mnist.size(Split.TEST));

        // Byte sums of images of the package, computed from its JSON: the first 0 (train image 0), the first 7
        // (train image 801 + 902 + 793 + 826 + 784 + 691 + 812 = 5609) and the last 9 (the last train image).
        assertEquals(31_095, byteSum(mnist, Split.TRAIN, 0));
        assertEquals(0, mnist.label(Split.TRAIN, 0));
        assertEquals(25_296, byteSum(mnist, Split.TRAIN, 5609));
        assertEquals(7, mnist.label(Split.TRAIN, 5609));
        assertEquals(19_255, byteSum(mnist, Split.TRAIN, 8003));
        assertEquals(9, mnist.label(Split.TRAIN, 8003));
    }

    @Test
    void fillIsAPureFunctionOfSeedStepAndSplit() {
        ImageDataset fashion = RealImages.fashionMnist();
        float[] pixels = new float[12 * PIXELS];
        int[] labels = new int[12];
        fashion.fill(Split.TRAIN, SEED, 42, 12, pixels, labels);
        float[] again = new float[12 * PIXELS];
        int[] againLabels = new int[12];
        Arrays.fill(again, -1); // whatever the arrays held before
        fashion.fill(Split.TRAIN, SEED, 41, 12, again, againLabels);
        fashion.fill(Split.TRAIN, SEED, 42, 12, again, againLabels);
        assertArrayEquals(pixels, again);
        assertArrayEquals(labels, againLabels);

        int[] rows = fashion.rowIndices(Split.TRAIN, SEED, 42, new Rows(0, 12));
        assertFalse(Arrays.equals(rows, fashion.rowIndices(Split.TRAIN, SEED, 43, new Rows(0, 12))));
        assertFalse(Arrays.equals(rows, fashion.rowIndices(Split.TRAIN, SEED + 1, 42, new Rows(0, 12))));
        assertFalse(Arrays.equals(rows, fashion.rowIndices(Split.TEST, SEED, 42, new Rows(0, 12))));
        for (int r = 0; r < 12; r++) {
            assertEquals(fashion.label(Split.TRAIN, rows[r]), labels[r]);
        }
        assertArrayEquals(ordered(fashion, Split.TRAIN, rows), pixels); // row r is image rows[r], byte / 255
    }

    /**
     * Pinned values, computed by an independent Python SplitMix64 (batch seed as TextDataset's, row r's generator
     * seeded with mix64(batch seed + r); draws: image, then dy and dx): if the generator or the mixing changes,
     * resumed runs would silently see other images.
     */
    @Test
    void rowIndicesArePinnedAcrossVersions() {
        ImageDataset fashion = RealImages.fashionMnist();
        assertArrayEquals(new int[] {15245, 13911, 24108, 21568}, fashion.rowIndices(Split.TRAIN, SEED, 0,
                new Rows(0, 4)));
        assertArrayEquals(new int[] {5166, 7349, 9020, 9804}, fashion.rowIndices(Split.TEST, SEED, 7, new Rows(0, 4)));

        // Step 3, padding 4: (image, dy, dx) = (3421, 1, 3), (47283, 1, -1), (36790, 0, -3), (54064, -4, -3).
        float[] pixels = new float[4 * PIXELS];
        fashion.fill(Split.TRAIN, SEED, 3, new Rows(0, 4), 4, pixels, new int[4]);
        int[][] expected = {{3421, 1, 3}, {47283, 1, -1}, {36790, 0, -3}, {54064, -4, -3}};
        for (int r = 0; r < 4; r++) {
            float[] source = ordered(fashion, Split.TRAIN, new int[] {expected[r][0]});
            assertArrayEquals(shifted(source, expected[r][1], expected[r][2]),
                    Arrays.copyOfRange(pixels, r * PIXELS, (r + 1) * PIXELS), "row " + r);
        }
    }

    @Test
    void theRowsOfAllRanksMakeTheGlobalBatch() {
        ImageDataset fashion = RealImages.fashionMnist();
        for (int padding : new int[] {0, 3}) {
            for (int globalBatch : new int[] {7, 12}) {
                float[] global = new float[globalBatch * PIXELS];
                int[] globalLabels = new int[globalBatch];
                fashion.fill(Split.TRAIN, SEED, 9, new Rows(0, globalBatch), padding, global, globalLabels);
                for (int worldSize = 1; worldSize <= 3; worldSize++) {
                    float[] joined = new float[globalBatch * PIXELS];
                    int[] joinedLabels = new int[globalBatch];
                    for (int rank = 0; rank < worldSize; rank++) { // each rank fills only its own rows
                        Rows rows = Rows.of(globalBatch, rank, worldSize);
                        float[] mine = new float[rows.count() * PIXELS];
                        int[] mineLabels = new int[rows.count()];
                        fashion.fill(Split.TRAIN, SEED, 9, rows, padding, mine, mineLabels);
                        System.arraycopy(mine, 0, joined, rows.first() * PIXELS, mine.length);
                        System.arraycopy(mineLabels, 0, joinedLabels, rows.first(), mineLabels.length);
                    }
                    String where = "global batch " + globalBatch + ", world size " + worldSize + ", padding " + padding;
                    assertArrayEquals(global, joined, where);
                    assertArrayEquals(globalLabels, joinedLabels, where);
                }
            }
        }
        // A larger batch starts with the rows of a smaller one: the global batch size does not change them.
        int[] small = fashion.rowIndices(Split.TRAIN, SEED, 9, new Rows(0, 7));
        assertArrayEquals(small, Arrays.copyOf(fashion.rowIndices(Split.TRAIN, SEED, 9, new Rows(0, 12)), 7));
    }

    @Test
    void cropWithPaddingZeroIsTheIdentity() {
        ImageDataset fashion = RealImages.fashionMnist();
        float[] plain = new float[8 * PIXELS];
        int[] plainLabels = new int[8];
        fashion.fill(Split.TRAIN, SEED, 5, 8, plain, plainLabels);
        float[] cropped = new float[8 * PIXELS];
        int[] croppedLabels = new int[8];
        fashion.fill(Split.TRAIN, SEED, 5, new Rows(0, 8), 0, cropped, croppedLabels);
        assertArrayEquals(plain, cropped);
        assertArrayEquals(plainLabels, croppedLabels);
    }

    @Test
    void cropIsDeterministicKeepsTheImageAndShiftsItWithinThePadding() {
        ImageDataset fashion = RealImages.fashionMnist();
        int batch = 64;
        int padding = 4;
        float[] cropped = new float[batch * PIXELS];
        int[] labels = new int[batch];
        fashion.fill(Split.TRAIN, SEED, 11, new Rows(0, batch), padding, cropped, labels);
        float[] again = new float[batch * PIXELS];
        fashion.fill(Split.TRAIN, SEED, 11, new Rows(0, batch), padding, again, new int[batch]);
        assertArrayEquals(cropped, again);

        int[] rows = fashion.rowIndices(Split.TRAIN, SEED, 11, new Rows(0, batch));
        float[] plain = new float[batch * PIXELS];
        int[] plainLabels = new int[batch];
        fashion.fill(Split.TRAIN, SEED, 11, batch, plain, plainLabels);
        assertArrayEquals(plainLabels, labels); // the same images, with or without cropping
        Set<String> shifts = new HashSet<>();
        for (int r = 0; r < batch; r++) {
            float[] source = Arrays.copyOfRange(plain, r * PIXELS, (r + 1) * PIXELS);
            float[] crop = Arrays.copyOfRange(cropped, r * PIXELS, (r + 1) * PIXELS);
            for (float p : crop) {
                assertTrue(p >= 0 && p <= 1, "pixel " + p);
            }
            String found = null;
            for (int dy = -padding; dy <= padding && found == null; dy++) {
                for (int dx = -padding; dx <= padding && found == null; dx++) {
                    if (Arrays.equals(shifted(source, dy, dx), crop)) {
                        found = dy + "," + dx;
                    }
                }
            }
            assertTrue(found != null, "row " + r + " (image " + rows[r] + ") is no shift of its image by ≤ 4");
            shifts.add(found);
        }
        assertTrue(shifts.size() > 20, "64 rows drew only the shifts " + shifts); // 81 possible
    }

    /** With flipping, each row is its cropped image or that image's mirror, about half of each, the crop unchanged. */
    @Test
    void flipMirrorsAboutHalfTheRowsAndKeepsTheirCrop() {
        ImageDataset fashion = RealImages.fashionMnist();
        int batch = 64;
        float[] cropped = new float[batch * PIXELS];
        int[] labels = new int[batch];
        fashion.fill(Split.TRAIN, SEED, 12, new Rows(0, batch), 2, cropped, labels);
        float[] flipped = new float[batch * PIXELS];
        int[] flippedLabels = new int[batch];
        fashion.fill(Split.TRAIN, SEED, 12, new Rows(0, batch), 2, true, flipped, flippedLabels);
        assertArrayEquals(labels, flippedLabels);
        int mirrored = 0;
        for (int r = 0; r < batch; r++) {
            float[] crop = Arrays.copyOfRange(cropped, r * PIXELS, (r + 1) * PIXELS);
            float[] row = Arrays.copyOfRange(flipped, r * PIXELS, (r + 1) * PIXELS);
            float[] mirror = new float[PIXELS];
            for (int y = 0; y < 28; y++) {
                for (int x = 0; x < 28; x++) {
                    mirror[y * 28 + x] = crop[y * 28 + 27 - x];
                }
            }
            boolean same = Arrays.equals(crop, row);
            boolean isMirror = Arrays.equals(mirror, row);
            assertTrue(same || isMirror, "row " + r + " is neither its crop nor the crop's mirror");
            mirrored += isMirror && !same ? 1 : 0;
        }
        assertTrue(mirrored > 16 && mirrored < 48, mirrored + " of 64 rows mirrored");
    }

    @Test
    void fillOrderedGoesThroughASplitInOrder() {
        ImageDataset mnist = RealImages.mnist();
        int n = mnist.size(Split.TEST);
        float[] pixels = new float[10 * PIXELS];
        int[] labels = new int[10];
        mnist.fillOrdered(Split.TEST, n - 10, 10, pixels, labels);
        for (int i = 0; i < 10; i++) {
            assertEquals(mnist.label(Split.TEST, n - 10 + i), labels[i]);
        }
        float[] one = new float[PIXELS];
        int[] oneLabel = new int[1];
        mnist.fillOrdered(Split.TEST, n - 1, 1, one, oneLabel);
        assertArrayEquals(one, Arrays.copyOfRange(pixels, 9 * PIXELS, 10 * PIXELS));
        assertEquals(9, oneLabel[0]); // the test split ends with the nines

        String message = assertThrows(IllegalArgumentException.class,
                () -> mnist.fillOrdered(Split.TEST, n - 9, 10, pixels, labels)).getMessage();
        assertTrue(message.contains("not within the 1996 of the TEST split"), message);
        assertThrows(IllegalArgumentException.class, () -> mnist.fillOrdered(Split.TEST, -1, 1, pixels, labels));
        assertThrows(IllegalArgumentException.class, () -> mnist.fillOrdered(Split.TEST, 0, 11, pixels, labels));
    }

    @Test
    void badArgumentsAreRejected() {
        ImageDataset tiny = ImageDataset.of("tiny", List.of("a", "b"), new byte[2 * 784], new byte[] {0, 1},
                new byte[784], new byte[] {1});
        float[] pixels = new float[4 * PIXELS];
        int[] labels = new int[4];
        assertThrows(IllegalArgumentException.class, () -> tiny.fill(Split.TRAIN, SEED, -1, 4, pixels, labels));
        assertThrows(IllegalArgumentException.class, () -> tiny.fill(Split.TRAIN, SEED, 0, 0, pixels, labels));
        assertThrows(IllegalArgumentException.class, () -> tiny.fill(Split.TRAIN, SEED, 0, 5, pixels, labels));
        assertThrows(IllegalArgumentException.class,
                () -> tiny.fill(Split.TRAIN, SEED, 0, new Rows(0, 4), -1, pixels, labels));
        assertThrows(IllegalArgumentException.class,
                () -> tiny.fill(Split.TRAIN, SEED, 0, new Rows(0, 4), 28, pixels, labels));
        assertThrows(IllegalArgumentException.class,
                () -> tiny.fill(Split.TRAIN, SEED, 0, new Rows(-1, 4), 0, pixels, labels));
        tiny.fill(Split.TEST, SEED, 0, 4, pixels, labels); // one test image, drawn four times
        assertArrayEquals(new int[] {1, 1, 1, 1}, labels);

        String message = assertThrows(IllegalArgumentException.class, () -> ImageDataset.of("bad", List.of("a"),
                new byte[784], new byte[] {1}, new byte[784], new byte[] {0})).getMessage();
        assertTrue(message.contains("bad: TRAIN image 0 has label 1, beyond the 1 classes"), message);
        message = assertThrows(IllegalArgumentException.class, () -> ImageDataset.of("short", List.of("a"),
                new byte[783], new byte[] {0}, new byte[784], new byte[] {0})).getMessage();
        assertTrue(message.contains("short: the TRAIN split has 1 labels and 783 pixel bytes"), message);
    }

    @Test
    void missingFilesNameTheFix(@TempDir Path empty) {
        String message = assertThrows(IllegalArgumentException.class, () -> ImageDataset.fashionMnist(empty))
                .getMessage();
        assertTrue(message.contains("train-images-idx3-ubyte.gz") && message.contains("run launch/fetch-data.sh"),
                message);
        message = assertThrows(IllegalArgumentException.class, () -> ImageDataset.mnist(empty)).getMessage();
        assertTrue(message.contains("digits-images-idx3-ubyte") && message.contains("run launch/fetch-data.sh"),
                message);
    }

    static int[] labelCounts(ImageDataset dataset, Split split) {
        int[] counts = new int[dataset.classes()];
        for (int i = 0; i < dataset.size(split); i++) {
            counts[dataset.label(split, i)]++;
        }
        return counts;
    }

    static long byteSum(ImageDataset dataset, Split split, int index) {
        float[] pixels = new float[PIXELS];
        dataset.fillOrdered(split, index, 1, pixels, new int[1]);
        long sum = 0;
        for (float p : pixels) {
            sum += Math.round(p * 255);
        }
        return sum;
    }

    /** Images {@code indices} of {@code split}, in that order, as fillOrdered gives them. */
    static float[] ordered(ImageDataset dataset, Split split, int[] indices) {
        float[] pixels = new float[indices.length * PIXELS];
        float[] one = new float[PIXELS];
        for (int i = 0; i < indices.length; i++) {
            dataset.fillOrdered(split, indices[i], 1, one, new int[1]);
            System.arraycopy(one, 0, pixels, i * PIXELS, PIXELS);
        }
        return pixels;
    }

    /** out[y, x] = image[y + dy, x + dx], 0 outside: the reference for the crop. */
    static float[] shifted(float[] image, int dy, int dx) {
        float[] out = new float[PIXELS];
        for (int y = 0; y < 28; y++) {
            for (int x = 0; x < 28; x++) {
                int sy = y + dy;
                int sx = x + dx;
                out[y * 28 + x] = sy >= 0 && sy < 28 && sx >= 0 && sx < 28 ? image[sy * 28 + sx] : 0;
            }
        }
        return out;
    }
}
