package io.ringformer.zoo.vision;

import static io.ringformer.zoo.vision.ImageDataset.PIXELS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringformer.zoo.vision.ImageDataset.Split;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageStatisticsTest {

    @TempDir
    Path dir;

    /** The figures everyone normalizes Fashion-MNIST with: mean 0.2860, std 0.3530 over the training images. */
    @Test
    void fashionMnistTrainingStatisticsAreThePublishedOnes() {
        ImageStatistics stats = ImageStatistics.of(RealImages.fashionMnist());
        assertEquals(0.2860, stats.mean()[0], 5e-5);
        assertEquals(0.3530, stats.std()[0], 5e-5);
        assertEquals(28, stats.height());
        assertEquals(28, stats.width());
        assertEquals(1, stats.channels());
        assertEquals(ImageDataset.FASHION_MNIST_CLASSES, stats.classNames());
    }

    @Test
    void normalizedTrainingImagesHaveMeanZeroAndStdOne() {
        ImageDataset mnist = RealImages.mnist();
        ImageStatistics stats = ImageStatistics.of(mnist);
        int n = mnist.size(Split.TRAIN);
        float[] pixels = new float[n * PIXELS];
        mnist.fillOrdered(Split.TRAIN, 0, n, pixels, new int[n]);
        stats.normalize(pixels);
        double sum = 0;
        double sumOfSquares = 0;
        for (float p : pixels) {
            sum += p;
            sumOfSquares += (double) p * p;
        }
        double mean = sum / pixels.length;
        assertEquals(0, mean, 1e-5);
        assertEquals(1, Math.sqrt(sumOfSquares / pixels.length - mean * mean), 1e-5);

        assertThrows(IllegalArgumentException.class, () -> stats.normalize(new float[PIXELS + 1]));
    }

    @Test
    void normalizeUsesEachChannelsOwnMeanAndStd() {
        ImageStatistics rgb = new ImageStatistics(new double[] {0.5, 0.25, 0}, new double[] {0.5, 0.25, 2}, 1, 2, 3,
                List.of("x"));
        float[] pixels = {1, 0, 0.5f, 0.25f, 2, 4, /* a second image */ 0.5f, 0.5f, 0.75f, 0.75f, 0, 0};
        rgb.normalize(pixels);
        assertArrayEquals(new float[] {1, -1, 1, 0, 1, 2, 0, 0, 2, 2, 0, 0}, pixels);
    }

    @Test
    void saveThenLoadGivesTheSameStatistics() throws IOException {
        ImageStatistics stats = ImageStatistics.of(RealImages.fashionMnist());
        Path file = dir.resolve(ImageStatistics.FILE_NAME);
        stats.save(file);
        ImageStatistics loaded = ImageStatistics.load(file);
        assertEquals(stats, loaded);
        assertArrayEquals(stats.mean(), loaded.mean()); // bit for bit
        assertArrayEquals(stats.std(), loaded.std());
        String json = Files.readString(file);
        for (String key : List.of("\"format\"", "\"mean\"", "\"std\"", "\"height\"", "\"width\"", "\"channels\"",
                "\"class_names\"", "\"Ankle boot\"")) {
            assertTrue(json.contains(key), key + " in " + json);
        }
        assertEquals(List.of(ImageStatistics.FILE_NAME), List.of(dir.toFile().list())); // no temporary file left
    }

    @Test
    void aBadFileNamesItselfAndTheKey() throws IOException {
        Path notJson = Files.writeString(dir.resolve("a.json"), "{ mean: ");
        String message = assertThrows(IllegalArgumentException.class, () -> ImageStatistics.load(notJson))
                .getMessage();
        assertTrue(message.startsWith(notJson + " is not JSON"), message);

        Path other = Files.writeString(dir.resolve("b.json"), "{\"model\": \"gpt\"}");
        message = assertThrows(IllegalArgumentException.class, () -> ImageStatistics.load(other)).getMessage();
        assertTrue(message.contains(other + " is not image statistics"), message);

        String good = "{\"format\": \"ringformer-image-stats 1\", \"mean\": [0.1], \"std\": [0.3], \"height\": 28,"
                + " \"width\": 28, \"channels\": 1, \"class_names\": [\"a\"]}";
        Path noStd = Files.writeString(dir.resolve("c.json"), good.replace("\"std\": [0.3], ", ""));
        message = assertThrows(IllegalArgumentException.class, () -> ImageStatistics.load(noStd)).getMessage();
        assertTrue(message.contains(noStd + ": \"std\" is missing"), message);

        Path zeroStd = Files.writeString(dir.resolve("d.json"), good.replace("[0.3]", "[0]"));
        message = assertThrows(IllegalArgumentException.class, () -> ImageStatistics.load(zeroStd)).getMessage();
        assertTrue(message.startsWith(zeroStd + ": channel 0 has mean 0.1 and std 0.0"), message);

        Path twoMeans = Files.writeString(dir.resolve("e.json"), good.replace("[0.1]", "[0.1, 0.2]"));
        message = assertThrows(IllegalArgumentException.class, () -> ImageStatistics.load(twoMeans)).getMessage();
        assertTrue(message.contains("one value per channel (1)"), message);

        Path fine = Files.writeString(dir.resolve("f.json"), good);
        assertEquals(new ImageStatistics(new double[] {0.1}, new double[] {0.3}, 28, 28, 1, List.of("a")),
                ImageStatistics.load(fine));
    }
}
